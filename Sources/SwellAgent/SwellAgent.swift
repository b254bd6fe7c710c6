// The node agent lives here.
enum SwellAgent {}
