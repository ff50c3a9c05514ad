/// Activity events as columns: one buffer per field of the event contract (DESIGN.md).
///
/// `event_data` and `device` are flattened into their own columns; `eventDataValidity`
/// and `deviceValidity` say whether the event had those objects at all.
public struct ActivityBatch: Sendable {
    /// `event_id`. Never null.
    public var eventId = StringColumn()
    /// Event time in microseconds since the Unix epoch (UTC). Never null.
    public var timestampMicros = PrimitiveColumn<Int64>()
    /// `user_id`. Never null.
    public var userId = StringColumn()
    /// `session_id`; optional.
    public var sessionId = StringColumn()
    /// `event_type` exactly as sent (non-empty). Never null.
    public var eventType = StringColumn()
    /// `nil` when every row has an `event_data` object, otherwise one flag per row.
    public var eventDataValidity: [Bool]? = nil
    /// `event_data.page`
    public var page = StringColumn()
    /// `event_data.element`
    public var element = StringColumn()
    /// `event_data.product_id`
    public var productId = StringColumn()
    /// `event_data.query`
    public var query = StringColumn()
    /// `event_data.amount`, finite.
    public var amount = PrimitiveColumn<Double>()
    /// `nil` when every row has a `device` object, otherwise one flag per row.
    public var deviceValidity: [Bool]? = nil
    /// `device.type`
    public var deviceType = StringColumn()
    /// `device.os`
    public var os = StringColumn()
    /// `device.browser`
    public var browser = StringColumn()
    /// Fields beyond the schema as one compact JSON object, or null when there are none.
    /// Unknown keys of `event_data` and `device` appear inside `"event_data"` and
    /// `"device"` members.
    public var extra = StringColumn()

    /// An empty batch.
    public init() {}

    /// The number of rows.
    public var count: Int { timestampMicros.count }

    /// Whether row `i` has an `event_data` object.
    public func hasEventData(row i: Int) -> Bool { eventDataValidity?[i] ?? true }

    /// Whether row `i` has a `device` object.
    public func hasDevice(row i: Int) -> Bool { deviceValidity?[i] ?? true }

    /// Removes every row.
    public mutating func removeAll(keepingCapacity: Bool = true) {
        if keepingCapacity {
            eventId.removeAll(); timestampMicros.removeAll(); userId.removeAll()
            sessionId.removeAll(); eventType.removeAll()
            eventDataValidity = nil
            page.removeAll(); element.removeAll(); productId.removeAll(); query.removeAll(); amount.removeAll()
            deviceValidity = nil
            deviceType.removeAll(); os.removeAll(); browser.removeAll()
            extra.removeAll()
        } else {
            self = ActivityBatch()
        }
    }

    /// Keeps the first `rows` rows.
    public mutating func truncate(toCount rows: Int) {
        eventId.truncate(toCount: rows); timestampMicros.truncate(toCount: rows)
        userId.truncate(toCount: rows); sessionId.truncate(toCount: rows); eventType.truncate(toCount: rows)
        truncateValidity(&eventDataValidity, rows)
        page.truncate(toCount: rows); element.truncate(toCount: rows); productId.truncate(toCount: rows)
        query.truncate(toCount: rows); amount.truncate(toCount: rows)
        truncateValidity(&deviceValidity, rows)
        deviceType.truncate(toCount: rows); os.truncate(toCount: rows); browser.truncate(toCount: rows)
        extra.truncate(toCount: rows)
    }

    /// Appends rows `rows` of `other`, column by column.
    public mutating func append(contentsOf other: ActivityBatch, rows: Range<Int>) {
        let before = count
        eventId.append(contentsOf: other.eventId, rows: rows)
        timestampMicros.append(contentsOf: other.timestampMicros, rows: rows)
        userId.append(contentsOf: other.userId, rows: rows)
        sessionId.append(contentsOf: other.sessionId, rows: rows)
        eventType.append(contentsOf: other.eventType, rows: rows)
        appendValidity(&eventDataValidity, before: before, other.eventDataValidity, rows: rows)
        page.append(contentsOf: other.page, rows: rows)
        element.append(contentsOf: other.element, rows: rows)
        productId.append(contentsOf: other.productId, rows: rows)
        query.append(contentsOf: other.query, rows: rows)
        amount.append(contentsOf: other.amount, rows: rows)
        appendValidity(&deviceValidity, before: before, other.deviceValidity, rows: rows)
        deviceType.append(contentsOf: other.deviceType, rows: rows)
        os.append(contentsOf: other.os, rows: rows)
        browser.append(contentsOf: other.browser, rows: rows)
        extra.append(contentsOf: other.extra, rows: rows)
    }

    /// Appends every row of `other`.
    public mutating func append(contentsOf other: ActivityBatch) {
        append(contentsOf: other, rows: 0..<other.count)
    }

    /// Row `i` as a value (allocates; for code off the hot path).
    public func event(at i: Int) -> ActivityEvent {
        ActivityEvent(
            eventId: eventId[row: i] ?? "", timestampMicros: timestampMicros.values[i],
            userId: userId[row: i] ?? "", sessionId: sessionId[row: i], eventType: eventType[row: i] ?? "",
            eventData: hasEventData(row: i)
                ? ActivityEvent.EventData(page: page[row: i], element: element[row: i],
                                          productId: productId[row: i], query: query[row: i],
                                          amount: amount[row: i])
                : nil,
            device: hasDevice(row: i)
                ? ActivityEvent.Device(type: deviceType[row: i], os: os[row: i], browser: browser[row: i])
                : nil,
            extra: extra[row: i])
    }

    /// Appends an event given as a value. `extra` must be a JSON object the reader
    /// could have produced (compact, unknown keys only) or `nil`.
    public mutating func append(_ e: ActivityEvent) {
        let before = count
        eventId.append(e.eventId)
        timestampMicros.append(e.timestampMicros)
        userId.append(e.userId)
        appendOptional(&sessionId, e.sessionId)
        eventType.append(e.eventType)
        [Bool].appendPresence(e.eventData != nil, to: &eventDataValidity, rowsBefore: before)
        appendOptional(&page, e.eventData?.page)
        appendOptional(&element, e.eventData?.element)
        appendOptional(&productId, e.eventData?.productId)
        appendOptional(&query, e.eventData?.query)
        amount.append(e.eventData?.amount, zero: 0)
        [Bool].appendPresence(e.device != nil, to: &deviceValidity, rowsBefore: before)
        appendOptional(&deviceType, e.device?.type)
        appendOptional(&os, e.device?.os)
        appendOptional(&browser, e.device?.browser)
        appendOptional(&extra, e.extra)
    }
}

/// One activity event as a value (tests, generators, tools; the hot path uses `ActivityBatch`).
public struct ActivityEvent: Sendable, Equatable {
    /// The `event_data` object.
    public struct EventData: Sendable, Equatable {
        /// `page`
        public var page: String?
        /// `element`
        public var element: String?
        /// `product_id`
        public var productId: String?
        /// `query`
        public var query: String?
        /// `amount`
        public var amount: Double?

        /// An event data object; every field defaults to absent.
        public init(page: String? = nil, element: String? = nil, productId: String? = nil,
                    query: String? = nil, amount: Double? = nil) {
            self.page = page
            self.element = element
            self.productId = productId
            self.query = query
            self.amount = amount
        }
    }

    /// The `device` object.
    public struct Device: Sendable, Equatable {
        /// `type`
        public var type: String?
        /// `os`
        public var os: String?
        /// `browser`
        public var browser: String?

        /// A device object; every field defaults to absent.
        public init(type: String? = nil, os: String? = nil, browser: String? = nil) {
            self.type = type
            self.os = os
            self.browser = browser
        }
    }

    /// `event_id`
    public var eventId: String
    /// Event time, microseconds since the Unix epoch.
    public var timestampMicros: Int64
    /// `user_id`
    public var userId: String
    /// `session_id`
    public var sessionId: String?
    /// `event_type`
    public var eventType: String
    /// The `event_data` object, if present.
    public var eventData: EventData?
    /// The `device` object, if present.
    public var device: Device?
    /// Fields beyond the schema, as in `ActivityBatch.extra`.
    public var extra: String?

    /// An activity event.
    public init(eventId: String, timestampMicros: Int64, userId: String, sessionId: String? = nil,
                eventType: String, eventData: EventData? = nil, device: Device? = nil, extra: String? = nil) {
        self.eventId = eventId
        self.timestampMicros = timestampMicros
        self.userId = userId
        self.sessionId = sessionId
        self.eventType = eventType
        self.eventData = eventData
        self.device = device
        self.extra = extra
    }
}

func truncateValidity(_ validity: inout [Bool]?, _ rows: Int) {
    if validity != nil {
        validity!.removeSubrange(rows...)
        if !validity!.contains(false) { validity = nil }
    }
}
