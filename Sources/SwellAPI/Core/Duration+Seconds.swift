extension Duration {
    /// The duration in seconds, as metrics and rates want it.
    public var inSeconds: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) + Double(attoseconds) / 1e18
    }
}
