import FlintBackend
import CZlib
import Foundation

/// A PNG encoder for 8-bit grey and RGB images (PNG specification, third edition): signature,
/// `IHDR`, one zlib-compressed `IDAT`, `IEND`, each chunk with its CRC-32. Every row gets the
/// filter (None, Sub, Up, Average or Paeth) whose output has the smallest sum of absolute
/// values, the heuristic the specification suggests and libpng uses, which lets zlib shrink
/// smooth pictures several times more than unfiltered rows.
///
///     try PNG.write(PixelImage(width: 2, height: 1, format: .grey, pixels: [0, 255]), to: url)
public enum PNG {
    /// The eight bytes every PNG file starts with.
    public static let signature: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]

    /// The PNG file for `image`.
    public static func encode(_ image: PixelImage) -> Data {
        var ihdr = Data()
        ihdr.appendBigEndian(UInt32(image.width))
        ihdr.appendBigEndian(UInt32(image.height))
        // Bit depth 8; colour type 0 (grey) or 2 (RGB); deflate; adaptive filtering; no interlace.
        ihdr.append(contentsOf: [8, image.format == .grey ? 0 : 2, 0, 0, 0])

        var file = Data(signature)
        appendChunk("IHDR", ihdr, to: &file)
        appendChunk("IDAT", deflate(filteredRows(image)), to: &file)
        appendChunk("IEND", Data(), to: &file)
        return file
    }

    /// Saves `image` as a PNG file with `AtomicFile` (a reader never sees half a picture).
    public static func write(_ image: PixelImage, to url: URL) throws {
        try AtomicFile.write(encode(image), to: url)
    }

    /// Each row preceded by its filter type byte, as `IDAT` holds them before compression.
    static func filteredRows(_ image: PixelImage) -> [UInt8] {
        let bpp = image.format.channels
        let stride = image.width * bpp
        var output = [UInt8]()
        output.reserveCapacity((stride + 1) * image.height)
        let zeros = [UInt8](repeating: 0, count: stride)
        var candidate = [UInt8](repeating: 0, count: stride)
        var best = [UInt8](repeating: 0, count: stride)
        image.pixels.withUnsafeBufferPointer { pixels in
            for y in 0..<image.height {
                let row = UnsafeBufferPointer(rebasing: pixels[(y * stride)..<((y + 1) * stride)])
                zeros.withUnsafeBufferPointer { zeros in
                    let above = y == 0 ? zeros : UnsafeBufferPointer(rebasing: pixels[((y - 1) * stride)..<(y * stride)])
                    var bestType: UInt8 = 0, bestCost = Int.max
                    for type in UInt8(0)...4 {
                        var cost = 0
                        for i in 0..<stride {
                            let a = i >= bpp ? row[i - bpp] : 0, b = above[i], c = i >= bpp ? above[i - bpp] : 0
                            let value = row[i] &- predictor(type, a, b, c)
                            candidate[i] = value
                            cost += Int(Int8(bitPattern: value).magnitude)
                        }
                        if cost < bestCost { (bestType, bestCost) = (type, cost); swap(&best, &candidate) }
                    }
                    output.append(bestType)
                    output.append(contentsOf: best)
                }
            }
        }
        return output
    }

    /// The value a filter predicts from the bytes left (`a`), above (`b`) and above-left (`c`).
    static func predictor(_ type: UInt8, _ a: UInt8, _ b: UInt8, _ c: UInt8) -> UInt8 {
        switch type {
        case 0: return 0
        case 1: return a
        case 2: return b
        case 3: return UInt8((Int(a) + Int(b)) / 2)
        default:
            let p = Int(a) + Int(b) - Int(c)
            let (pa, pb, pc) = (abs(p - Int(a)), abs(p - Int(b)), abs(p - Int(c)))
            return pa <= pb && pa <= pc ? a : pb <= pc ? b : c
        }
    }

    /// A zlib stream (RFC 1950) of `bytes` at the best compression.
    static func deflate(_ bytes: [UInt8]) -> Data {
        var size = compressBound(uLong(bytes.count))
        var output = [UInt8](repeating: 0, count: Int(size))
        let status = compress2(&output, &size, bytes, uLong(bytes.count), Z_BEST_COMPRESSION)
        // compressBound guarantees room, so only an allocation failure inside zlib can get here.
        ensure(status == Z_OK, "PNG: zlib compress2 failed with status \(status)")
        return Data(output[..<Int(size)])
    }

    /// Appends length, type, data and the CRC-32 of type and data.
    static func appendChunk(_ type: String, _ data: Data, to file: inout Data) {
        var body = Data(type.utf8)
        body.append(data)
        file.appendBigEndian(UInt32(data.count))
        file.append(body)
        let crc = body.withUnsafeBytes { bytes in
            crc32(0, bytes.bindMemory(to: Bytef.self).baseAddress, uInt(bytes.count))
        }
        file.appendBigEndian(UInt32(crc))
    }
}

extension Data {
    mutating func appendBigEndian(_ value: UInt32) {
        append(contentsOf: [UInt8(value >> 24), UInt8(value >> 16 & 0xFF), UInt8(value >> 8 & 0xFF), UInt8(value & 0xFF)])
    }
}
