import AsyncHTTPClient

/// The HTTP client swellctl's requests go through.
///
/// Unlike a long-running controller, a command should fail at once when nothing listens at
/// the server address, so failed connection attempts are not retried until the deadline.
/// It lives for the whole process, which ends with `exit`, so it is never shut down.
let commandLineHTTPClient: HTTPClient = {
    var configuration = HTTPClient.Configuration(timeout: .init(connect: .seconds(10)))
    configuration.connectionPool.retryConnectionEstablishment = false
    return HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
}()
