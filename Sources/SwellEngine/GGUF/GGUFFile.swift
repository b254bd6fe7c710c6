/// Where a tensor's data lives and how to read it.
public struct GGUFTensorInfo: Sendable, Equatable {
    public let name: String
    /// ggml order: dimensions[0] is the contiguous (row) length.
    public let dimensions: [Int]
    public let type: GGMLType
    /// Offset of the data relative to the start of the data section.
    public let offset: Int
    public let byteCount: Int

    public var elementCount: Int { dimensions.reduce(1, *) }
    /// Elements per row (dimensions[0]) and number of rows (the product of the rest).
    public var rowLength: Int { dimensions.first ?? 1 }
    public var rowCount: Int { dimensions.dropFirst().reduce(1, *) }
}

/// A parsed GGUF (v2 or v3) file whose tensor data stays in a shared read-only mapping.
public final class GGUFFile: @unchecked Sendable {
    public let path: String
    public let version: UInt32
    /// Metadata keys in file order.
    public let metadataKeys: [String]
    public let metadata: [String: GGUFValue]
    public let tensors: [GGUFTensorInfo]
    public let alignment: Int
    /// Absolute file offset of the data section.
    public let dataOffset: Int
    public var fileSize: Int { mapping.size }

    private let mapping: MappedFile
    private let tensorIndex: [String: Int]

    public static let magic: UInt32 = 0x4655_4747 // "GGUF" little-endian
    public static let defaultAlignment = 32

    public convenience init(path: String) throws(GGUFError) {
        try self.init(mapping: MappedFile(path: path), path: path)
    }

    /// Parses GGUF bytes held in memory (tests, fuzzing); the bytes are copied.
    public convenience init(bytes: [UInt8]) throws(GGUFError) {
        try self.init(mapping: MappedFile(copying: bytes), path: "<memory>")
    }

    private init(mapping: MappedFile, path: String) throws(GGUFError) {
        self.mapping = mapping
        self.path = path
        var reader = ByteReader(mapping.bytes)

        let magic = try reader.read(UInt32.self, "magic")
        guard magic == Self.magic else { throw .notGGUF(magic: magic) }
        version = try reader.read(UInt32.self, "version")
        guard version == 2 || version == 3 else { throw .unsupportedVersion(version) }
        let tensorCount = try reader.read(UInt64.self, "tensor count")
        let metadataCount = try reader.read(UInt64.self, "metadata count")
        // Counts are not trusted for allocation: a damaged count runs into a truncation error
        // at the first item past the end of the file instead.
        guard tensorCount <= UInt64(Int32.max), metadataCount <= UInt64(Int32.max) else {
            throw .implausibleCount(what: "tensor or metadata count", count: max(tensorCount, metadataCount), offset: 8)
        }
        var keys: [String] = []
        var values: [String: GGUFValue] = [:]
        for index in 0..<Int(metadataCount) {
            let key = try reader.readString("metadata key #\(index)")
            let typeOffset = reader.offset
            let rawType = try reader.read(UInt32.self, "type of \(key)")
            guard let type = GGUFValueType(rawValue: rawType) else {
                throw .invalidValueType(key: key, type: rawType, offset: typeOffset)
            }
            let value = try Self.readValue(type, key: key, reader: &reader)
            guard values.updateValue(value, forKey: key) == nil else { throw .duplicateKey(key) }
            keys.append(key)
        }
        metadataKeys = keys
        metadata = values

        let alignment = values["general.alignment"]?.intValue ?? Self.defaultAlignment
        guard alignment > 0, alignment & (alignment - 1) == 0 else { throw .invalidAlignment(alignment) }
        self.alignment = alignment

        var infos: [GGUFTensorInfo] = []
        infos.reserveCapacity(min(Int(tensorCount), reader.remaining / 32))
        var rawOffsets: [(name: String, offset: UInt64, bytes: Int)] = []
        for index in 0..<Int(tensorCount) {
            let infoOffset = reader.offset
            let name = try reader.readString("name of tensor #\(index)")
            let dimensionCount = try reader.read(UInt32.self, "dimension count of \(name)")
            guard (1...4).contains(dimensionCount) else {
                throw .implausibleCount(what: "dimension count of \(name)", count: UInt64(dimensionCount), offset: infoOffset)
            }
            var rawDimensions: [UInt64] = []
            for axis in 0..<Int(dimensionCount) {
                rawDimensions.append(try reader.read(UInt64.self, "dimension \(axis) of \(name)"))
            }
            let rawType = try reader.read(UInt32.self, "type of \(name)")
            let offset = try reader.read(UInt64.self, "data offset of \(name)")
            guard let type = GGMLType(rawValue: rawType) else {
                throw .unsupportedTensorType(tensor: name, type: GGMLType.ggmlName(rawType), offset: infoOffset)
            }
            // Each dimension positive, the product well inside Int, and rows of whole blocks.
            var elements: UInt64 = 1
            for dimension in rawDimensions {
                let (product, overflow) = elements.multipliedReportingOverflow(by: dimension)
                guard dimension > 0, !overflow, product < (1 << 40) else {
                    throw .invalidTensorShape(tensor: name, dimensions: rawDimensions, offset: infoOffset)
                }
                elements = product
            }
            let dimensions = rawDimensions.map { Int($0) }
            guard let rowBytes = type.rowBytes(dimensions[0]) else {
                throw .invalidTensorShape(tensor: name, dimensions: rawDimensions, offset: infoOffset)
            }
            let byteCount = rowBytes * dimensions.dropFirst().reduce(1, *)
            rawOffsets.append((name, offset, byteCount))
            infos.append(GGUFTensorInfo(name: name, dimensions: dimensions, type: type,
                                        offset: Int(clamping: offset), byteCount: byteCount))
        }

        let headerEnd = reader.offset
        let dataStart = (headerEnd + alignment - 1) / alignment * alignment
        guard dataStart <= mapping.size else {
            throw .truncated(offset: headerEnd, needed: dataStart - mapping.size, reading: "padding before tensor data")
        }
        dataOffset = dataStart
        let dataSize = mapping.size - dataStart
        for entry in rawOffsets {
            guard entry.offset % UInt64(alignment) == 0 else {
                throw .misalignedTensor(tensor: entry.name, offset: entry.offset, alignment: alignment)
            }
            guard entry.offset <= UInt64(dataSize), UInt64(entry.bytes) <= UInt64(dataSize) - entry.offset else {
                throw .tensorOutOfBounds(tensor: entry.name, offset: entry.offset, size: entry.bytes, dataSize: dataSize)
            }
        }
        tensors = infos
        var index: [String: Int] = [:]
        for (position, info) in infos.enumerated() { index[info.name] = position }
        tensorIndex = index
    }

    private static func readValue(_ type: GGUFValueType, key: String, reader: inout ByteReader) throws(GGUFError) -> GGUFValue {
        switch type {
        case .uint8: return .uint8(try reader.read(UInt8.self, key))
        case .int8: return .int8(try reader.read(Int8.self, key))
        case .uint16: return .uint16(try reader.read(UInt16.self, key))
        case .int16: return .int16(try reader.read(Int16.self, key))
        case .uint32: return .uint32(try reader.read(UInt32.self, key))
        case .int32: return .int32(try reader.read(Int32.self, key))
        case .float32: return .float32(try reader.readFloat(key))
        case .bool:
            let offset = reader.offset
            let byte = try reader.read(UInt8.self, key)
            guard byte <= 1 else { throw .invalidValueType(key: key, type: UInt32(byte), offset: offset) }
            return .bool(byte == 1)
        case .string: return .string(try reader.readString(key))
        case .uint64: return .uint64(try reader.read(UInt64.self, key))
        case .int64: return .int64(try reader.read(Int64.self, key))
        case .float64: return .float64(try reader.readDouble(key))
        case .array:
            let typeOffset = reader.offset
            let rawElementType = try reader.read(UInt32.self, "element type of \(key)")
            guard let elementType = GGUFValueType(rawValue: rawElementType), elementType != .array else {
                throw .invalidValueType(key: key, type: rawElementType, offset: typeOffset)
            }
            let countOffset = reader.offset
            let count = try reader.read(UInt64.self, "length of \(key)")
            // Every element takes at least one byte, so a longer array cannot fit in the file.
            guard count <= UInt64(reader.remaining) else {
                throw .truncated(offset: reader.offset, needed: Int(clamping: count) - reader.remaining,
                                 reading: "\(count) elements of \(key) (length at byte \(countOffset))")
            }
            var elements: [GGUFValue] = []
            elements.reserveCapacity(Int(count))
            for _ in 0..<Int(count) {
                elements.append(try readValue(elementType, key: key, reader: &reader))
            }
            return .array(elements)
        }
    }

    // MARK: - Lookup

    public func tensor(named name: String) -> GGUFTensorInfo? {
        tensorIndex[name].map { tensors[$0] }
    }

    /// The mapped bytes of a tensor; valid as long as this file object lives.
    public func data(of tensor: GGUFTensorInfo) -> UnsafeRawPointer {
        mapping.base + dataOffset + tensor.offset
    }

    public func string(_ key: String) -> String? { metadata[key]?.stringValue }
    public func int(_ key: String) -> Int? { metadata[key]?.intValue }
    public func double(_ key: String) -> Double? { metadata[key]?.doubleValue }
    public func bool(_ key: String) -> Bool? { metadata[key]?.boolValue }
    public func array(_ key: String) -> [GGUFValue]? { metadata[key]?.arrayValue }
}
