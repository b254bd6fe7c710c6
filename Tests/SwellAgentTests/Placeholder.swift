import Testing
@testable import SwellAgent
