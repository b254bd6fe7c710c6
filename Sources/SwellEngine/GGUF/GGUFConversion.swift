import CSwellKernels

/// Rewrites a GGUF model with its weight matrices in another type — the same model at another
/// precision, e.g. F16 or Q8_0 from the Q4_1 file for benchmarks. Matrices (two or more
/// dimensions) are dequantized and requantized; vectors (norm weights) and metadata are copied
/// unchanged, except `general.file_type`.
public enum GGUFConversion {
    public static func convert(_ input: GGUFFile, to type: GGMLType) throws(ConversionError) -> GGUFWriter {
        var writer = GGUFWriter(alignment: input.alignment)
        for key in input.metadataKeys {
            guard let value = input.metadata[key] else { continue }
            writer.set(key, key == "general.file_type" ? .uint32(fileType(type)) : value)
        }
        for tensor in input.tensors {
            let data = input.data(of: tensor)
            guard tensor.dimensions.count >= 2, tensor.type != type else {
                writer.addRawTensor(tensor.name, dimensions: tensor.dimensions, type: tensor.type,
                                    bytes: Array(UnsafeRawBufferPointer(start: data, count: tensor.byteCount)))
                continue
            }
            guard type.rowBytes(tensor.rowLength) != nil else {
                throw ConversionError(tensor: tensor.name, rowLength: tensor.rowLength, type: type)
            }
            var values = [Float](repeating: 0, count: tensor.elementCount)
            let rowBytes = tensor.byteCount / tensor.rowCount
            values.withUnsafeMutableBufferPointer { out in
                for row in 0..<tensor.rowCount {
                    _ = swell_dequantize_row(Int32(tensor.type.rawValue), data + row * rowBytes,
                                             out.baseAddress! + row * tensor.rowLength, Int64(tensor.rowLength))
                }
            }
            writer.addTensor(tensor.name, dimensions: tensor.dimensions, type: type, values: values)
        }
        return writer
    }

    public struct ConversionError: Error, Equatable, CustomStringConvertible {
        public let tensor: String
        public let rowLength: Int
        public let type: GGMLType

        public var description: String {
            "tensor \(tensor): rows of \(rowLength) elements do not fill whole \(type) blocks of \(type.blockElements)"
        }
    }

    /// llama.cpp's `general.file_type` (LLAMA_FTYPE_*) for a file of mostly `type` weights.
    static func fileType(_ type: GGMLType) -> UInt32 {
        switch type {
        case .f32: 0
        case .f16: 1
        case .q4_0: 2
        case .q4_1: 3
        case .q8_0: 7
        case .bf16: 32
        }
    }
}
