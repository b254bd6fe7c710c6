import Hummingbird
import NIOCore

/// A request context that keeps the connection, so a handler can notice that its client went
/// away: Hummingbird's basic context plus the channel.
public struct ConnectionRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    public let channel: any Channel

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        channel = source.channel
    }
}

/// Runs `operation` (a request that writes nothing until it is done) and cancels it when the
/// client closes its side of the connection. A streamed response notices a disconnect when a
/// write fails; a whole JSON response writes only at the end, so without this a client that gave
/// up would keep its sequence running — and its KV blocks held — until the last token.
///
/// The server allows half-closed connections, so a client's close shows up as the channel's
/// `inputClosed` event, not as the channel closing; both are watched.
public func cancellingOnDisconnect<Value: Sendable>(
    _ channel: any Channel, _ operation: @escaping @Sendable () async throws -> Value
) async throws -> Value {
    let task = Task { try await operation() }
    let name = "swell-disconnect-\(UInt64.random(in: 0...UInt64.max))"
    let installed = channel.eventLoop.submit {
        try channel.pipeline.syncOperations.addHandler(DisconnectHandler { task.cancel() }, name: name, position: .first)
    }
    // A channel already closed refuses the handler: then the client is gone already.
    if (try? await installed.get()) == nil { task.cancel() }
    defer {
        channel.eventLoop.execute {
            channel.pipeline.syncOperations.removeHandler(name: name, promise: nil)
        }
    }
    return try await withTaskCancellationHandler {
        try await task.value
    } onCancel: {
        task.cancel()
    }
}

/// Passes everything through; calls `disconnected` once when the input side closes.
private final class DisconnectHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = NIOAny
    private var disconnected: (() -> Void)?

    init(_ disconnected: @escaping () -> Void) {
        self.disconnected = disconnected
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        context.fireChannelRead(data)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case ChannelEvent.inputClosed = event { fire() }
        context.fireUserInboundEventTriggered(event)
    }

    func channelInactive(context: ChannelHandlerContext) {
        fire()
        context.fireChannelInactive()
    }

    private func fire() {
        disconnected?()
        disconnected = nil
    }
}
