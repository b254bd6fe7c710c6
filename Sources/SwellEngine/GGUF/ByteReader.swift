/// A bounds-checked little-endian cursor over bytes; every read past the end throws
/// `GGUFError.truncated` naming what was being read, so malformed files never crash.
struct ByteReader {
    let bytes: UnsafeRawBufferPointer
    private(set) var offset: Int = 0

    init(_ bytes: UnsafeRawBufferPointer) {
        self.bytes = bytes
    }

    var remaining: Int { bytes.count - offset }

    mutating func require(_ count: Int, _ what: @autoclosure () -> String) throws(GGUFError) {
        guard count >= 0, count <= remaining else {
            throw .truncated(offset: offset, needed: count - remaining, reading: what())
        }
    }

    mutating func read<T: FixedWidthInteger>(_: T.Type, _ what: @autoclosure () -> String) throws(GGUFError) -> T {
        try require(MemoryLayout<T>.size, what())
        let value = bytes.loadUnaligned(fromByteOffset: offset, as: T.self)
        offset += MemoryLayout<T>.size
        return T(littleEndian: value)
    }

    mutating func readFloat(_ what: @autoclosure () -> String) throws(GGUFError) -> Float {
        Float(bitPattern: try read(UInt32.self, what()))
    }

    mutating func readDouble(_ what: @autoclosure () -> String) throws(GGUFError) -> Double {
        Double(bitPattern: try read(UInt64.self, what()))
    }

    /// A u64-length-prefixed UTF-8 string.
    mutating func readString(_ what: @autoclosure () -> String) throws(GGUFError) -> String {
        let length = try read(UInt64.self, what())
        guard length <= UInt64(remaining) else {
            throw .truncated(offset: offset, needed: Int(clamping: length) - remaining, reading: what())
        }
        let slice = UnsafeRawBufferPointer(rebasing: bytes[offset..<offset + Int(length)])
        // Repairing decode: some vocabularies carry byte-level tokens that are not valid UTF-8 on
        // their own; a U+FFFD in a token text is better than refusing the model.
        let string = String(decoding: slice, as: UTF8.self)
        offset += Int(length)
        return string
    }

    mutating func skip(to position: Int, _ what: @autoclosure () -> String) throws(GGUFError) {
        try require(position - offset, what())
        offset = position
    }
}
