import CSwellKernels

/// The tensor element types the engine reads (numbering as in ggml).
public enum GGMLType: UInt32, Sendable, CaseIterable, CustomStringConvertible {
    case f32 = 0
    case f16 = 1
    case q4_0 = 2
    case q4_1 = 3
    case q8_0 = 8
    case bf16 = 30

    /// Elements per block (1 for float types).
    public var blockElements: Int { Int(swell_type_block_elements(Int32(rawValue))) }
    /// Bytes per block.
    public var blockBytes: Int { Int(swell_type_block_bytes(Int32(rawValue))) }
    /// Whether matmuls with this type quantize activations to Q8 first.
    public var isQuantized: Bool { blockElements > 1 }

    /// Bytes of a row of `elements`, nil if the elements do not fill whole blocks.
    public func rowBytes(_ elements: Int) -> Int? {
        let bytes = swell_row_bytes(Int32(rawValue), Int64(elements))
        return bytes < 0 ? nil : Int(bytes)
    }

    public var description: String {
        switch self {
        case .f32: "F32"
        case .f16: "F16"
        case .q4_0: "Q4_0"
        case .q4_1: "Q4_1"
        case .q8_0: "Q8_0"
        case .bf16: "BF16"
        }
    }

    /// ggml's name for a type id the engine does not support, for error messages.
    static func ggmlName(_ raw: UInt32) -> String {
        if let type = GGMLType(rawValue: raw) { return type.description }
        let known: [UInt32: String] = [
            6: "Q5_0", 7: "Q5_1", 9: "Q8_1", 10: "Q2_K", 11: "Q3_K", 12: "Q4_K", 13: "Q5_K", 14: "Q6_K",
            15: "Q8_K", 16: "IQ2_XXS", 17: "IQ2_XS", 18: "IQ3_XXS", 19: "IQ1_S", 20: "IQ4_NL", 21: "IQ3_S",
            22: "IQ2_S", 23: "IQ4_XS", 24: "I8", 25: "I16", 26: "I32", 27: "I64", 28: "F64", 29: "IQ1_M",
        ]
        return known[raw] ?? "type \(raw)"
    }
}
