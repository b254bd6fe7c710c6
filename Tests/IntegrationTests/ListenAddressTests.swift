import Testing
@testable import swell

@Suite struct ListenAddressTests {
    @Test(arguments: [
        ("127.0.0.1:7070", "127.0.0.1", 7070),
        ("127.0.0.1:0", "127.0.0.1", 0),
        (":8080", "0.0.0.0", 8080),
        ("[::1]:7070", "::1", 7070),
        ("localhost:65535", "localhost", 65535),
    ])
    func parses(_ text: String, _ host: String, _ port: Int) throws {
        let address = try ListenAddress(parsing: text)
        #expect(address.host == host)
        #expect(address.port == port)
    }

    @Test(arguments: ["7070", "127.0.0.1", "127.0.0.1:70000", "127.0.0.1:-1", "::1:7070", "[::1]7070", "host:port"])
    func rejects(_ text: String) {
        #expect(throws: ListenAddress.ParseError.self) { try ListenAddress(parsing: text) }
    }

    @Test func urlsBracketIPv6Hosts() throws {
        #expect(try ListenAddress(parsing: "[::1]:0").url(port: 4000) == "http://[::1]:4000")
        #expect(try ListenAddress(parsing: "127.0.0.1:0").url(port: 4000) == "http://127.0.0.1:4000")
    }
}
