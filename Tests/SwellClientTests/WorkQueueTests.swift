import SwellClient
import Synchronization
import Testing

@Suite("Work queue with real tasks")
struct WorkQueueTests {
    @Test("get waits for an add")
    func getWaits() async throws {
        let queue = WorkQueue<String>()
        async let key = queue.get()
        // Whether the getter is already waiting or not, it must receive the key.
        queue.add("a")
        #expect(await key == "a")
    }

    @Test("several waiting workers each get a different key")
    func severalWorkers() async throws {
        let queue = WorkQueue<Int>()
        let received = await withTaskGroup(of: Int?.self) { group in
            for _ in 0..<3 { group.addTask { await queue.get() } }
            for key in [1, 2, 3, 1, 2] { queue.add(key) }
            var keys = [Int]()
            for await key in group { keys.append(key ?? -1) }
            return keys.sorted()
        }
        #expect(received == [1, 2, 3])
        #expect(queue.count == 0)
    }

    @Test("a key re-added during processing comes back after done")
    func reAddDuringProcessing() async throws {
        let queue = WorkQueue<String>()
        queue.add("a")
        let first = await queue.get()
        queue.add("a")
        #expect(queue.count == 0, "not handed to a second worker while processing")
        queue.done("a")
        #expect(queue.count == 1)
        #expect(await queue.get() == first)
    }

    @Test("addAfter delivers later; addRateLimited counts retries until forget")
    func delayed() async throws {
        let queue = WorkQueue<String>(backoff: ItemBackoff(base: .milliseconds(1), max: .milliseconds(50)))
        queue.addAfter("later", delay: .milliseconds(20))
        #expect(queue.count == 0)
        #expect(await queue.get() == "later")
        queue.done("later")

        for attempt in 1...3 {
            queue.addRateLimited("flaky")
            #expect(await queue.get() == "flaky")
            queue.done("flaky")
            #expect(queue.numRequeues(of: "flaky") == attempt)
        }
        queue.forget("flaky")
        #expect(queue.numRequeues(of: "flaky") == 0)
    }

    @Test("shutDown drains queued keys, then wakes every getter with nil and drops delayed adds")
    func shutDown() async throws {
        let queue = WorkQueue<String>()
        queue.add("a")
        queue.addAfter("delayed", delay: .seconds(3600))
        queue.shutDown()
        queue.add("b")
        #expect(await queue.get() == "a")
        #expect(await queue.get() == nil)

        let idle = WorkQueue<String>()
        async let waiting = idle.get()
        idle.shutDown()
        #expect(await waiting == nil)
    }

    @Test("cancelling a waiting get returns nil and loses no key")
    func cancelledGet() async throws {
        let queue = WorkQueue<String>()
        let waiter = Task { await queue.get() }
        waiter.cancel()
        #expect(await waiter.value == nil)
        queue.add("a")
        #expect(queue.count == 1, "the cancelled getter took nothing")
        #expect(await queue.get() == "a")
    }
}
