// The InferenceService controller, scheduler and garbage collector live here.
enum SwellControllers {}
