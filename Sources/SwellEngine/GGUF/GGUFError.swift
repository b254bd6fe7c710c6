/// Why a GGUF file could not be read. Every case names where in the file the problem is.
public enum GGUFError: Error, Equatable, CustomStringConvertible {
    case cannotOpen(path: String, reason: String)
    case notGGUF(magic: UInt32)
    case unsupportedVersion(UInt32)
    case truncated(offset: Int, needed: Int, reading: String)
    case invalidValueType(key: String, type: UInt32, offset: Int)
    case implausibleCount(what: String, count: UInt64, offset: Int)
    case duplicateKey(String)
    case invalidAlignment(Int)
    case unsupportedTensorType(tensor: String, type: String, offset: Int)
    case invalidTensorShape(tensor: String, dimensions: [UInt64], offset: Int)
    case tensorOutOfBounds(tensor: String, offset: UInt64, size: Int, dataSize: Int)
    case misalignedTensor(tensor: String, offset: UInt64, alignment: Int)

    public var description: String {
        switch self {
        case .cannotOpen(let path, let reason):
            "cannot open GGUF file \(path): \(reason)"
        case .notGGUF(let magic):
            "not a GGUF file (magic 0x\(String(magic, radix: 16)), expected 0x46554747 \"GGUF\")"
        case .unsupportedVersion(let version):
            "unsupported GGUF version \(version) (supported: 2, 3)"
        case .truncated(let offset, let needed, let reading):
            "file truncated at byte \(offset): \(needed) more bytes needed reading \(reading)"
        case .invalidValueType(let key, let type, let offset):
            "metadata \(key): invalid value type \(type) at byte \(offset)"
        case .implausibleCount(let what, let count, let offset):
            "implausible \(what) \(count) at byte \(offset)"
        case .duplicateKey(let key):
            "duplicate metadata key \(key)"
        case .invalidAlignment(let alignment):
            "general.alignment \(alignment) is not a power of two"
        case .unsupportedTensorType(let tensor, let type, let offset):
            "tensor \(tensor) (info at byte \(offset)): unsupported type \(type); supported: F32, F16, BF16, Q8_0, Q4_0, Q4_1"
        case .invalidTensorShape(let tensor, let dimensions, let offset):
            "tensor \(tensor) (info at byte \(offset)): invalid shape \(dimensions)"
        case .tensorOutOfBounds(let tensor, let offset, let size, let dataSize):
            "tensor \(tensor): data at offset \(offset) + \(size) bytes exceeds the data section (\(dataSize) bytes)"
        case .misalignedTensor(let tensor, let offset, let alignment):
            "tensor \(tensor): data offset \(offset) is not a multiple of the alignment \(alignment)"
        }
    }
}
