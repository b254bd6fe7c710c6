import CSwellKernels
import Foundation

/// Builds GGUF v3 files in memory: metadata in insertion order, tensors quantized from Float
/// values on the way in. Tests use it to make tiny deterministic models.
public struct GGUFWriter {
    private var metadata: [(key: String, value: GGUFValue)] = []
    private var tensors: [(name: String, dimensions: [Int], type: GGMLType, data: [UInt8])] = []
    public var alignment: Int

    public init(alignment: Int = GGUFFile.defaultAlignment) {
        self.alignment = alignment
    }

    public mutating func set(_ key: String, _ value: GGUFValue) {
        metadata.removeAll { $0.key == key }
        metadata.append((key, value))
    }

    /// Adds a tensor given in row-major order (`dimensions[0]` contiguous), converted to `type`.
    public mutating func addTensor(_ name: String, dimensions: [Int], type: GGMLType, values: [Float]) {
        precondition(values.count == dimensions.reduce(1, *), "\(name): \(values.count) values for shape \(dimensions)")
        guard let rowBytes = type.rowBytes(dimensions[0]) else {
            preconditionFailure("\(name): row length \(dimensions[0]) is not a multiple of the \(type) block size")
        }
        let rows = values.count / dimensions[0]
        var data = [UInt8](repeating: 0, count: rowBytes * rows)
        values.withUnsafeBufferPointer { source in
            data.withUnsafeMutableBytes { destination in
                for row in 0..<rows {
                    _ = swell_quantize_row(Int32(type.rawValue), source.baseAddress! + row * dimensions[0],
                                           destination.baseAddress! + row * rowBytes, Int64(dimensions[0]))
                }
            }
        }
        tensors.append((name, dimensions, type, data))
    }

    /// Adds a tensor from already encoded bytes (hand-made blocks in tests).
    public mutating func addRawTensor(_ name: String, dimensions: [Int], type: GGMLType, bytes: [UInt8]) {
        tensors.append((name, dimensions, type, bytes))
    }

    public func serialized() -> [UInt8] {
        var out: [UInt8] = []
        out.append(littleEndian: GGUFFile.magic)
        out.append(littleEndian: UInt32(3))
        out.append(littleEndian: UInt64(tensors.count))
        var entries = metadata
        if alignment != GGUFFile.defaultAlignment, !entries.contains(where: { $0.key == "general.alignment" }) {
            entries.append(("general.alignment", .uint32(UInt32(alignment))))
        }
        out.append(littleEndian: UInt64(entries.count))
        for (key, value) in entries {
            out.appendString(key)
            out.append(littleEndian: value.typeID.rawValue)
            out.appendValue(value)
        }
        var offset = 0
        var offsets: [Int] = []
        for tensor in tensors {
            offsets.append(offset)
            offset = (offset + tensor.data.count + alignment - 1) / alignment * alignment
        }
        for (tensor, tensorOffset) in zip(tensors, offsets) {
            out.appendString(tensor.name)
            out.append(littleEndian: UInt32(tensor.dimensions.count))
            for dimension in tensor.dimensions { out.append(littleEndian: UInt64(dimension)) }
            out.append(littleEndian: tensor.type.rawValue)
            out.append(littleEndian: UInt64(tensorOffset))
        }
        out.pad(to: alignment)
        for tensor in tensors {
            out.append(contentsOf: tensor.data)
            out.pad(to: alignment)
        }
        return out
    }

    public func write(to path: String) throws {
        try Data(serialized()).write(to: URL(fileURLWithPath: path))
    }
}

extension [UInt8] {
    fileprivate mutating func append<T: FixedWidthInteger>(littleEndian value: T) {
        Swift.withUnsafeBytes(of: value.littleEndian) { append(contentsOf: $0) }
    }

    fileprivate mutating func appendString(_ string: String) {
        append(littleEndian: UInt64(string.utf8.count))
        append(contentsOf: string.utf8)
    }

    fileprivate mutating func pad(to alignment: Int) {
        let padded = (count + alignment - 1) / alignment * alignment
        append(contentsOf: repeatElement(0, count: padded - count))
    }

    fileprivate mutating func appendValue(_ value: GGUFValue) {
        switch value {
        case .uint8(let v): append(littleEndian: v)
        case .int8(let v): append(littleEndian: v)
        case .uint16(let v): append(littleEndian: v)
        case .int16(let v): append(littleEndian: v)
        case .uint32(let v): append(littleEndian: v)
        case .int32(let v): append(littleEndian: v)
        case .float32(let v): append(littleEndian: v.bitPattern)
        case .bool(let v): append(v ? 1 : 0)
        case .string(let v): appendString(v)
        case .uint64(let v): append(littleEndian: v)
        case .int64(let v): append(littleEndian: v)
        case .float64(let v): append(littleEndian: v.bitPattern)
        case .array(let values):
            append(littleEndian: (values.first?.typeID ?? .uint8).rawValue)
            append(littleEndian: UInt64(values.count))
            for element in values { appendValue(element) }
        }
    }
}
