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
        // Rows come in time order, mostly within one window: remember the last key's slot.
        var lastStart = Int64.min, lastID = UInt32.max, lastSlot: Int32 = -1
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
            if start == lastStart, id == lastID {
                slots.append(lastSlot)
                continue
            }
            let s = Int32(slot(start: start, id: id, batch: batch, make: make))
            lastStart = start
            lastID = id
            lastSlot = s
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
        var closed: [(start: Int64, id: UInt32, state: State, changed: Bool)] = []
        removeClosed(upTo: watermark) { closed.append(($0, $1, $2, $3 == batch)) }
        closed.sort { ($0.start, $0.id) < ($1.start, $1.id) }
        return closed
    }

    /// Removes the windows that end at or before `watermark`, returning nothing: for
    /// windows emitted elsewhere (the whole-system ones), where collecting and sorting
    /// what `close` returns was thrown away.
    mutating func drop(upTo watermark: Int64) {
        guard hasClosable(watermark) else { return }
        removeClosed(upTo: watermark) { _, _, _, _ in }
    }

    /// Calls `closing` with (start, id, state, batch that last changed it) of each window
    /// ending at or before `watermark`, and removes them.
    private mutating func removeClosed(upTo watermark: Int64, _ closing: (Int64, UInt32, State, UInt64) -> Void) {
        // The kept windows move down in place, in their order, and only the index is
        // rebuilt: copying each kept state into a new table cost a retain and a release of
        // its sketch or HyperLogLog arrays, for every open window at every close.
        var write = 0
        var earliest = Int64.max
        for read in states.indices {
            if starts[read] + spec.sizeMicros <= watermark {
                closing(starts[read], ids[read], states[read], touched[read])
                continue
            }
            if write != read {
                // Slots write ..< read hold closed windows (already copied out): swap one back.
                states.swapAt(write, read)
                starts[write] = starts[read]
                ids[write] = ids[read]
                touched[write] = touched[read]
            }
            earliest = min(earliest, starts[write])
            write += 1
        }
        states.removeSubrange(write...)
        starts.removeSubrange(write...)
        ids.removeSubrange(write...)
        touched.removeSubrange(write...)
        index = GroupIndex(capacity: write)
        for s in 0..<write { index.insert(starts[s], ids[s], slot: s) }
        earliestStart = earliest
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
