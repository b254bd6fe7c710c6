import Foundation
import Testing
@testable import SwellEngine

@Suite("GGUF reader and writer")
struct GGUFTests {
    static let everyValue: [(String, GGUFValue)] = [
        ("u8", .uint8(200)), ("i8", .int8(-100)), ("u16", .uint16(60000)), ("i16", .int16(-30000)),
        ("u32", .uint32(4_000_000_000)), ("i32", .int32(-2_000_000_000)), ("f32", .float32(3.5)),
        ("bool", .bool(true)), ("string", .string("héllo ✓")), ("u64", .uint64(1 << 60)),
        ("i64", .int64(-(1 << 60))), ("f64", .float64(-2.25)),
        ("array.strings", .array([.string("a"), .string(""), .string("ü")])),
        ("array.ints", .array([.int32(1), .int32(-2), .int32(3)])), ("array.empty", .array([])),
    ]

    @Test("every metadata value type and tensor type survives a write/read round trip")
    func roundTrip() throws {
        var writer = GGUFWriter(alignment: 64)
        for (key, value) in Self.everyValue { writer.set(key, value) }
        let values = (0..<64).map { Float($0) / 8 - 4 }
        for type in GGMLType.allCases {
            writer.addTensor("t.\(type)", dimensions: [32, 2], type: type, values: values)
        }
        let file = try GGUFFile(bytes: writer.serialized())
        #expect(file.version == 3)
        #expect(file.alignment == 64)
        #expect(file.dataOffset % 64 == 0)
        for (key, value) in Self.everyValue { #expect(file.metadata[key] == value, "\(key)") }
        #expect(Array(file.metadataKeys.prefix(Self.everyValue.count)) == Self.everyValue.map(\.0))
        for type in GGMLType.allCases {
            let info = try #require(file.tensor(named: "t.\(type)"))
            #expect(info.type == type)
            #expect(info.dimensions == [32, 2])
            #expect(info.offset % 64 == 0)
            var restored = [Float](repeating: 0, count: 64)
            let matrix = try WeightMatrix(file, info.name, columns: 32, rows: 2)
            restored.withUnsafeMutableBufferPointer { buffer in
                matrix.dequantizeRow(0, into: buffer.baseAddress!)
                matrix.dequantizeRow(1, into: buffer.baseAddress! + 32)
            }
            // Exact for F32; within the format's rounding otherwise (values are k/8 in [-4, 4)).
            let bound: Float = switch type {
            case .f32, .f16, .bf16: 0
            case .q8_0: 4.0 / 127 / 2 + 1e-3
            default: 8.0 / 15
            }
            #expect(maxAbsDifference(restored, values) <= bound, "\(type)")
        }
    }

    @Test("version 2 files are read too; other versions and magics are refused")
    func versions() throws {
        var bytes = TinyModel.writer().serialized()
        bytes[4] = 2
        #expect(try GGUFFile(bytes: bytes).version == 2)
        bytes[4] = 4
        #expect(throws: GGUFError.unsupportedVersion(4)) { try GGUFFile(bytes: bytes) }
        bytes[0] = UInt8(ascii: "X")
        #expect(throws: GGUFError.self) { try GGUFFile(bytes: bytes) }
    }

    @Test("an unsupported tensor type names the tensor, the type and the offset")
    func unsupportedType() throws {
        var writer = GGUFWriter()
        writer.set("general.architecture", .string("llama"))
        writer.addRawTensor("blk.0.ffn_down.weight", dimensions: [256, 1], type: .q8_0, bytes: [UInt8](repeating: 0, count: 272))
        var bytes = writer.serialized()
        // Patch the type field (after name, dimension count and one dimension) to 12 = Q4_K.
        let name = Array("blk.0.ffn_down.weight".utf8)
        let nameStart = try #require(bytes.firstRange(of: name)).lowerBound
        let typeOffset = nameStart + name.count + 4 + 16
        bytes[typeOffset] = 12
        do {
            _ = try GGUFFile(bytes: bytes)
            Issue.record("expected an error")
        } catch {
            #expect(error == .unsupportedTensorType(tensor: "blk.0.ffn_down.weight", type: "Q4_K", offset: nameStart - 8))
            #expect(error.description.contains("blk.0.ffn_down.weight"))
            #expect(error.description.contains("Q4_K"))
        }
    }

    @Test("truncation is reported with the offset and what was being read")
    func truncation() throws {
        let bytes = TinyModel.writer().serialized()
        #expect(throws: GGUFError.truncated(offset: 0, needed: 4, reading: "magic")) { try GGUFFile(bytes: []) }
        do {
            _ = try GGUFFile(bytes: Array(bytes.prefix(30)))
            Issue.record("expected an error")
        } catch {
            guard case .truncated(let offset, _, let reading) = error else {
                Issue.record("unexpected \(error)")
                return
            }
            #expect(offset <= 30)
            #expect(reading.contains("metadata"))
        }
        // Cutting into the tensor data leaves the header intact but the data short.
        #expect(throws: GGUFError.self) { try GGUFFile(bytes: Array(bytes.dropLast(100))) }
    }

    @Test("a missing file is a clear error")
    func missingFile() {
        #expect(throws: GGUFError.self) { try GGUFFile(path: "/nonexistent/model.gguf") }
    }

    @Test("fuzz: random truncations and byte flips never crash the reader")
    func fuzz() throws {
        var random = RandomSource(seed: 2024)
        let tiny = TinyModel.writer().serialized()
        // The real model's header (metadata with 49k tokens and 48k merges, 272 tensor infos).
        let real = try Self.realHeader()
        var outcomes: [String: Int] = [:]
        for round in 0..<400 {
            let source = round % 2 == 0 ? tiny : real
            var bytes = source
            if round % 4 < 2 {
                bytes = Array(bytes.prefix(Int(random.next() % UInt64(bytes.count))))
            } else {
                for _ in 0..<(1 + random.next() % 8) {
                    // Flips concentrated in the header, where the structure is.
                    let limit = min(bytes.count, 4096 + Int(random.next() % 64) * 1024)
                    bytes[Int(random.next() % UInt64(limit))] ^= UInt8(1 << (random.next() % 8))
                }
            }
            do {
                let file = try GGUFFile(bytes: bytes)
                // Whatever parses must be usable: every tensor lies inside the data.
                for tensor in file.tensors { #expect(file.dataOffset + tensor.offset + tensor.byteCount <= file.fileSize) }
                outcomes["parsed", default: 0] += 1
                _ = try? LlamaModel(gguf: file)
            } catch {
                outcomes[String(describing: error).prefix(while: { $0 != "(" }).description, default: 0] += 1
            }
        }
        #expect(outcomes.values.reduce(0, +) == 400)
        #expect(outcomes.keys.count >= 3, "\(outcomes)")
    }

    /// The real model file up to the end of its tensor infos, with its data section replaced by a
    /// few bytes: the interesting structure without copying 98 MB per fuzz case.
    static func realHeader() throws -> [UInt8] {
        let path = try RealModel.locate()
        let file = try GGUFFile(path: path)
        let handle = try #require(FileHandle(forReadingAtPath: path))
        defer { try? handle.close() }
        return Array(try handle.read(upToCount: file.dataOffset + 64) ?? Data())
    }
}
