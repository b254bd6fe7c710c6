import Testing
@testable import SwellControllers
