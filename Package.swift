// swift-tools-version: 6.2
import PackageDescription

let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
]

let package = Package(
    name: "swell",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "swell", targets: ["swell"]),
        .executable(name: "swellctl", targets: ["swellctl"]),
        .library(name: "SwellAPI", targets: ["SwellAPI"]),
        .library(name: "SwellClient", targets: ["SwellClient"]),
        .library(name: "SwellEngine", targets: ["SwellEngine"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.5.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.80.0"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.0.0"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift", from: "0.2.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.5.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.0.0"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.24.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.0.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.6.0"),
        .package(url: "https://github.com/swiftlang/swift-subprocess", from: "1.0.0"),
    ],
    targets: [
        // MARK: SwellAPI — resource types, quantities, defaulting, validation, YAML/JSON codec
        .target(
            name: "SwellAPI",
            dependencies: [
                .product(name: "Yams", package: "Yams"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "SwellAPITests",
            dependencies: [
                "SwellAPI",
            ],
            swiftSettings: swiftSettings
        ),

        // MARK: SwellStore — ResourceStore protocol, SQLiteStore, conformance suite
        .target(
            name: "SwellStore",
            dependencies: [
                "SwellAPI",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "SwellStoreTests",
            dependencies: [
                "SwellStore",
            ],
            swiftSettings: swiftSettings
        ),

        // MARK: SwellServer — REST API, watch streaming, Status errors, /metrics
        .target(
            name: "SwellServer",
            dependencies: [
                "SwellAPI",
                "SwellStore",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "SwellServerTests",
            dependencies: [
                "SwellServer",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ],
            swiftSettings: swiftSettings
        ),

        // MARK: SwellClient — typed API client, informer, work queue, controller runtime
        .target(
            name: "SwellClient",
            dependencies: [
                "SwellAPI",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "SwellClientTests",
            dependencies: [
                "SwellClient",
                "SwellServer",
            ],
            swiftSettings: swiftSettings
        ),

        // MARK: SwellControllers — InferenceService controller, scheduler, garbage collector
        .target(
            name: "SwellControllers",
            dependencies: [
                "SwellAPI",
                "SwellClient",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "SwellControllersTests",
            dependencies: [
                "SwellControllers",
                "SwellServer",
                "SwellStore",
            ],
            swiftSettings: swiftSettings
        ),

        // MARK: SwellAgent — node registration, replica runtime, probes, process stats
        .target(
            name: "SwellAgent",
            dependencies: [
                "SwellAPI",
                "SwellClient",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Subprocess", package: "swift-subprocess"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "SwellAgentTests",
            dependencies: [
                "SwellAgent",
                "SwellServer",
                "SwellStore",
            ],
            swiftSettings: swiftSettings
        ),

        // MARK: SwellRouter — the OpenAI-compatible front door: routing policies, per-priority queues, scale-from-zero buffering, retries
        .target(
            name: "SwellRouter",
            dependencies: [
                "SwellAPI",
                "SwellClient",
                "SwellHTTP",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "SwellRouterTests",
            dependencies: [
                "SwellRouter",
                "SwellServer",
                "SwellStore",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ],
            swiftSettings: swiftSettings
        ),

        // MARK: SwellHTTP — what the engine's and the router's OpenAI servers share: OpenAI error bodies, JSON answers, disconnect watching
        .target(
            name: "SwellHTTP",
            dependencies: [
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),

        // MARK: CSwellKernels — SIMD kernels with scalar fallback
        .target(
            name: "CSwellKernels",
            cSettings: [
                .unsafeFlags(["-O3"]),
            ]
        ),

        // MARK: SwellEngine — GGUF, tokenizer, Llama forward pass, sampling, paged KV cache, serving, OpenAI API
        .target(
            name: "SwellEngine",
            dependencies: [
                "CSwellKernels",
                "SwellAPI",
                "SwellHTTP",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "SwellEngineTests",
            dependencies: [
                "SwellEngine",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
            ],
            swiftSettings: swiftSettings
        ),

        // MARK: SwellLoad — load generator: scenarios, arrival processes, HDR histograms, report, SVG
        .target(
            name: "SwellLoad",
            dependencies: [
                "SwellAPI",
                "SwellClient",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "SwellLoadTests",
            dependencies: [
                "SwellClient",
                "SwellLoad",
            ],
            swiftSettings: swiftSettings
        ),

        // MARK: swell — `swell server | agent | engine`
        .executableTarget(
            name: "swell",
            dependencies: [
                "SwellServer",
                "SwellControllers",
                "SwellAgent",
                "SwellEngine",
                "SwellLoad",
                "SwellRouter",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),

        // MARK: swellctl — the command-line client
        .executableTarget(
            name: "swellctl",
            dependencies: [
                "SwellAPI",
                "SwellClient",
                "SwellLoad",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ],
            swiftSettings: swiftSettings
        ),

        // MARK: IntegrationTests — real server processes, swellctl end to end, crash safety
        .testTarget(
            name: "IntegrationTests",
            dependencies: [
                "swell",
                "swellctl",
                "SwellAPI",
                "SwellClient",
                "SwellLoad",
                "SwellStore",
            ],
            swiftSettings: swiftSettings
        ),
    ]
)
