import CSwellKernels

/// A 2-D weight tensor in the mapped file: `rows` rows of `columns` elements of `type`.
struct WeightMatrix: @unchecked Sendable {
    let name: String
    let type: GGMLType
    let data: UnsafeRawPointer
    let rows: Int
    let columns: Int
    let rowBytes: Int

    init(_ gguf: GGUFFile, _ name: String, columns: Int, rows: Int) throws(ModelLoadError) {
        guard let info = gguf.tensor(named: name) else { throw .missingTensor(name) }
        guard info.dimensions == [columns, rows] else {
            throw .tensorShape(tensor: name, expected: [columns, rows], actual: info.dimensions)
        }
        self.name = name
        type = info.type
        data = gguf.data(of: info)
        self.rows = rows
        self.columns = columns
        rowBytes = info.byteCount / rows
    }

    /// Dequantizes row `index` into `out` (`columns` floats): the embedding lookup.
    func dequantizeRow(_ index: Int, into out: UnsafeMutablePointer<Float>) {
        _ = swell_dequantize_row(Int32(type.rawValue), data + index * rowBytes, out, Int64(columns))
    }

    /// All values as Float, row-major (reference implementations in tests).
    func dequantized() -> [Float] {
        var values = [Float](repeating: 0, count: rows * columns)
        values.withUnsafeMutableBufferPointer { buffer in
            for row in 0..<rows { dequantizeRow(row, into: buffer.baseAddress! + row * columns) }
        }
        return values
    }
}

/// Reads a 1-D tensor (norm weights) as Float.
func loadVector(_ gguf: GGUFFile, _ name: String, length: Int) throws(ModelLoadError) -> [Float] {
    guard let info = gguf.tensor(named: name) else { throw .missingTensor(name) }
    guard info.elementCount == length, info.dimensions[0] == length else {
        throw .tensorShape(tensor: name, expected: [length], actual: info.dimensions)
    }
    var values = [Float](repeating: 0, count: length)
    values.withUnsafeMutableBufferPointer { buffer in
        _ = swell_dequantize_row(Int32(info.type.rawValue), gguf.data(of: info), buffer.baseAddress!, Int64(length))
    }
    return values
}
