/// The open windows of one metric family: a state per (window start, key id), kept in
/// flat arrays and found through a `GroupIndex`. Closing windows removes their slots,
/// so the table only ever holds windows the watermark has not passed.
struct WindowTable<State: Sendable>: Sendable {
    let spec: WindowSpec
    private(set) var index = GroupIndex()
    private(set) var starts: [Int64] = []
    private(set) var ids: [UInt32] = []
    var states: [State] = []
    /// The batch number that last changed each slot (update mode).
    private(set) var touched: [UInt64] = []
    /// The earliest window start held, to skip the close scan when nothing can close.
    private(set) var earliestStart: Int64 = .max
    /// Per key id below `recentLimit`: the last window a row of that key went to, and its
    /// slot (kept right when windows close and slots move).
    private var recent: [RecentSlot] = []
    /// Ids past this are always probed, so a few large ids cannot size `recent`.
    static var recentLimit: Int { 1 << 18 }

    private struct RecentSlot {
        var start: Int64
        /// -1 when the window closed.
        var slot: Int32
        /// The batch that last changed the window through this entry.
        var batch: UInt64
    }

    init(spec: WindowSpec) {
        self.spec = spec
    }

    var count: Int { states.count }

    /// The slot of `(start, id)`, created with `make()` when new, marked as changed in `batch`.
    @inline(__always)
    mutating func slot(start: Int64, id: UInt32, batch: UInt64, make: () -> State) -> Int {
        if let s = index.find(start, id) {
            touched[s] = batch
            return s
        }
        let s = states.count
        index.insert(start, id, slot: s)
        starts.append(start)
        ids.append(id)
        states.append(make())
        touched.append(batch)
        if start < earliestStart { earliestStart = start }
        return s
    }

    /// Sets `slots[row]` to the slot of row `row`'s `k`-th window (counting back from the
    /// latest window covering its time), or -1 when the row is not admitted, has no key
    /// (`UInt32.max`) or has fewer windows. `ids == nil` keys every row by 0.
    mutating func assignSlots(_ times: [Int64], ids: [UInt32]?, admitted: [Bool], k: Int, batch: UInt64,
                              into slots: inout [Int32], make: () -> State) {
        let n = times.count
        slots.removeAll(keepingCapacity: true)
        slots.reserveCapacity(n)
        let back = Int64(k) * spec.slideMicros
        // Each key's last window and slot, so a key's later rows in the same window skip the
        // hash probe: rows come in time order, a service's or an IP's rows of one window
        // spread among every other key's, and across batches.
        for row in 0..<n {
            let id = ids?[row] ?? 0
            guard admitted[row], id != .max else {
                slots.append(-1)
                continue
            }
            let t = times[row]
            let start = spec.lastStart(t) - back
            guard start > t - spec.sizeMicros else {
                slots.append(-1)
                continue
            }
            let i = Int(id)
            if i < recent.count {
                let r = recent[i]
                if r.start == start, r.slot >= 0 {
                    if r.batch != batch {
                        touched[Int(r.slot)] = batch
                        recent[i].batch = batch
                    }
                    slots.append(r.slot)
                    continue
                }
            } else if i < Self.recentLimit {
                recent.append(contentsOf: repeatElement(RecentSlot(start: 0, slot: -1, batch: 0), count: i + 1 - recent.count))
            }
            let s = Int32(slot(start: start, id: id, batch: batch, make: make))
            if i < recent.count { recent[i] = RecentSlot(start: start, slot: s, batch: batch) }
            slots.append(s)
        }
    }

    /// The window of a slot.
    func window(_ slot: Int) -> TimeWindow {
        TimeWindow(startMicros: starts[slot], endMicros: starts[slot] + spec.sizeMicros)
    }

    /// Whether any window ends at or before `watermark`.
    func hasClosable(_ watermark: Int64) -> Bool {
        earliestStart != .max && earliestStart + spec.sizeMicros <= watermark
    }

    /// Removes the windows that end at or before `watermark` and returns them as
    /// (start, id, state, changed in `batch`), ordered by start then id.
    mutating func close(upTo watermark: Int64, batch: UInt64) -> [(start: Int64, id: UInt32, state: State, changed: Bool)] {
        guard hasClosable(watermark) else { return [] }
        let kept = keepOpen(upTo: watermark)
        var closed: [(start: Int64, id: UInt32, state: State, changed: Bool)] = []
        closed.reserveCapacity(states.count - kept)
        // Popped straight into the result: handed through a closure taking the state as
        // `consuming`, each was still copied (a retain and release of its arrays).
        while states.count > kept {
            let start = starts.removeLast(), id = ids.removeLast()
            forget(start, id)
            closed.append((start, id, states.removeLast(), touched.removeLast() == batch))
        }
        reindex()
        closed.sort { ($0.start, $0.id) < ($1.start, $1.id) }
        return closed
    }

    /// Removes the windows that end at or before `watermark`, returning nothing: for
    /// windows emitted elsewhere (the whole-system ones), where collecting and sorting
    /// what `close` returns was thrown away.
    mutating func drop(upTo watermark: Int64) {
        guard hasClosable(watermark) else { return }
        let kept = keepOpen(upTo: watermark)
        for s in kept..<states.count { forget(starts[s], ids[s]) }
        starts.removeSubrange(kept...)
        ids.removeSubrange(kept...)
        states.removeSubrange(kept...)
        touched.removeSubrange(kept...)
        reindex()
    }

    /// Moves the windows ending after `watermark` to the front, in their order, and
    /// returns their count; the closed ones are left behind them. Sets `earliestStart`.
    private mutating func keepOpen(upTo watermark: Int64) -> Int {
        // The kept windows move down in place and only the index is rebuilt: copying each
        // kept state into a new table cost a retain and a release of its sketch or
        // HyperLogLog arrays, for every open window at every close. (Swapped through the
        // buffer: `Array.swapAt` copies through a temporary.)
        var write = 0
        var earliest = Int64.max
        let size = spec.sizeMicros
        states.withUnsafeMutableBufferPointer { states in
            for read in states.indices where starts[read] + size > watermark {
                if write != read {
                    // Slots write ..< read hold closed windows: swap one back.
                    states.swapAt(write, read)
                    starts.swapAt(write, read)
                    ids.swapAt(write, read)
                    touched.swapAt(write, read)
                }
                earliest = min(earliest, starts[write])
                write += 1
            }
        }
        earliestStart = earliest
        return write
    }

    /// Marks a closing window's key as having no recent slot.
    @inline(__always)
    private mutating func forget(_ start: Int64, _ id: UInt32) {
        if Int(id) < recent.count, recent[Int(id)].start == start { recent[Int(id)].slot = -1 }
    }

    /// Rebuilds the index over the open windows and re-points their keys' recent slots.
    private mutating func reindex() {
        index = GroupIndex(capacity: states.count)
        for s in states.indices {
            index.insert(starts[s], ids[s], slot: s)
            let i = Int(ids[s])
            if i < recent.count, recent[i].start == starts[s] { recent[i].slot = Int32(s) }
        }
    }

    /// Slots changed in `batch`, ordered by start then id.
    func changed(in batch: UInt64) -> [Int] {
        states.indices.filter { touched[$0] == batch }.sorted { (starts[$0], ids[$0]) < (starts[$1], ids[$1]) }
    }

    /// Slots ordered by start then id (canonical snapshot order).
    var orderedSlots: [Int] {
        states.indices.sorted { (starts[$0], ids[$0]) < (starts[$1], ids[$1]) }
    }

    mutating func insertExisting(start: Int64, id: UInt32, state: State, touched batch: UInt64) {
        let s = states.count
        index.insert(start, id, slot: s)
        starts.append(start)
        ids.append(id)
        states.append(state)
        touched.append(batch)
        if start < earliestStart { earliestStart = start }
    }

    /// Rewrites every key id through `map` (after the interner was compacted).
    mutating func remapIDs(_ map: (UInt32) -> UInt32) {
        var fresh = WindowTable(spec: spec)
        for s in states.indices {
            fresh.insertExisting(start: starts[s], id: map(ids[s]), state: states[s], touched: touched[s])
        }
        self = fresh
    }
}
