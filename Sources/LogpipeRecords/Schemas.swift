// The two record schemas as the parser sees them: which keys are known, of which
// kind, in which column; and how a parsed row is sealed into the batch.

@inline(__always)
func keyIs(_ key: UnsafeRawBufferPointer, _ name: StaticString) -> Bool {
    key.count == name.utf8CodeUnitCount && memoryEqual(key.baseAddress!, name.utf8Start, key.count)
}

/// Seals a string column's row: the bytes decoded into it, or a null.
@inline(__always)
func seal(_ column: inout StringColumn, _ present: Bool) {
    if present { column.sealAppendedBytes() } else { column.appendNull() }
}

/// The log schema's known fields, each stated once for the general walk's lookup by key
/// (`field(group:key:)`) and the fast path's guesses in the usual order (`expectedMember`).
enum LogFields {
    static let timestamp = FieldSpec(bit: 0, kind: .timestamp, slot: 0, path: "timestamp")
    static let level = FieldSpec(bit: 1, kind: .level, slot: 0, path: "level")
    static let service = FieldSpec(bit: 2, kind: .string, slot: 0, path: "service")
    static let host = FieldSpec(bit: 3, kind: .string, slot: 1, path: "host")
    static let message = FieldSpec(bit: 4, kind: .string, slot: 2, path: "message")
    static let metadata = FieldSpec(bit: 5, kind: .object, slot: 1, path: "metadata")
    static let requestId = FieldSpec(bit: 6, kind: .string, slot: 3, path: "metadata.request_id")
    static let responseTimeMs = FieldSpec(bit: 7, kind: .nonNegativeDouble, slot: 0, path: "metadata.response_time_ms")
    static let statusCode = FieldSpec(bit: 8, kind: .int32, slot: 0, path: "metadata.status_code")
    static let endpoint = FieldSpec(bit: 9, kind: .string, slot: 4, path: "metadata.endpoint")
    static let method = FieldSpec(bit: 10, kind: .string, slot: 5, path: "metadata.method")
    static let clientIp = FieldSpec(bit: 11, kind: .string, slot: 6, path: "metadata.client_ip")
    static let userId = FieldSpec(bit: 12, kind: .string, slot: 7, path: "metadata.user_id")
}

extension LogBatch: RecordSchema {
    static var requiredMask: UInt64 { 0b1_0111 }  // timestamp, level, service, message
    static var groupCount: Int { 1 }

    static func groupName(_ group: Int) -> StaticString { group == 1 ? "metadata" : "" }

    static func path(ofBit bit: Int) -> StaticString {
        switch bit {
        case 0: "timestamp"
        case 1: "level"
        case 2: "service"
        default: "message"
        }
    }

    @inline(__always)
    static func field(group: Int, key: UnsafeRawBufferPointer) -> FieldSpec? {
        if group == 0 {
            switch key.count {
            case 9: if keyIs(key, "timestamp") { return LogFields.timestamp }
            case 5: if keyIs(key, "level") { return LogFields.level }
            case 7: if keyIs(key, "service") { return LogFields.service }
                if keyIs(key, "message") { return LogFields.message }
            case 4: if keyIs(key, "host") { return LogFields.host }
            case 8: if keyIs(key, "metadata") { return LogFields.metadata }
            default: break
            }
            return nil
        }
        switch key.count {
        case 10: if keyIs(key, "request_id") { return LogFields.requestId }
        case 16: if keyIs(key, "response_time_ms") { return LogFields.responseTimeMs }
        case 11: if keyIs(key, "status_code") { return LogFields.statusCode }
        case 8: if keyIs(key, "endpoint") { return LogFields.endpoint }
        case 6: if keyIs(key, "method") { return LogFields.method }
        case 9: if keyIs(key, "client_ip") { return LogFields.clientIp }
        case 7: if keyIs(key, "user_id") { return LogFields.userId }
        default: break
        }
        return nil
    }

    @inline(__always)
    static func expectedMember(group: Int, index: Int) -> ExpectedMember? {
        if group == 0 {
            switch index {
            case 0: return ExpectedMember(quotedKey: #""timestamp":"#, spec: LogFields.timestamp)
            case 1: return ExpectedMember(quotedKey: #""level":"#, spec: LogFields.level)
            case 2: return ExpectedMember(quotedKey: #""service":"#, spec: LogFields.service)
            case 3: return ExpectedMember(quotedKey: #""host":"#, spec: LogFields.host)
            case 4: return ExpectedMember(quotedKey: #""message":"#, spec: LogFields.message)
            case 5: return ExpectedMember(quotedKey: #""metadata":"#, spec: LogFields.metadata)
            default: return nil
            }
        }
        switch index {
        case 0: return ExpectedMember(quotedKey: #""request_id":"#, spec: LogFields.requestId)
        case 1: return ExpectedMember(quotedKey: #""response_time_ms":"#, spec: LogFields.responseTimeMs)
        case 2: return ExpectedMember(quotedKey: #""status_code":"#, spec: LogFields.statusCode)
        case 3: return ExpectedMember(quotedKey: #""endpoint":"#, spec: LogFields.endpoint)
        case 4: return ExpectedMember(quotedKey: #""method":"#, spec: LogFields.method)
        case 5: return ExpectedMember(quotedKey: #""client_ip":"#, spec: LogFields.clientIp)
        case 6: return ExpectedMember(quotedKey: #""user_id":"#, spec: LogFields.userId)
        default: return nil
        }
    }

    @inline(__always)
    mutating func withStringBytes<R>(_ slot: UInt8, _ body: (inout [UInt8]) -> R) -> R {
        switch slot {
        case 0: body(&service.bytes)
        case 1: body(&host.bytes)
        case 2: body(&message.bytes)
        case 3: body(&requestId.bytes)
        case 4: body(&endpoint.bytes)
        case 5: body(&method.bytes)
        case 6: body(&clientIp.bytes)
        default: body(&userId.bytes)
        }
    }

    static var stringSlots: Int { 8 }

    mutating func appendStaged(_ stage: FastStage) {
        let rows = stage.stagedRows
        let n = rows.count
        let before = count
        var everyRow = UInt64.max
        for r in rows { everyRow &= r.present }
        @inline(__always) func all(_ bit: UInt64) -> Bool { everyRow & (1 << bit) != 0 }
        timestampMicros.appendStaged(count: n, value: { rows[$0].timestamp }, present: { _ in true }, allPresent: true)
        level.appendStaged(count: n, value: { rows[$0].level }, present: { _ in true }, allPresent: true)
        service.appendStaged(stage.slot(0), present: { _ in true }, allPresent: true)
        host.appendStaged(stage.slot(1), present: { rows[$0].has(3) }, allPresent: all(3))
        message.appendStaged(stage.slot(2), present: { _ in true }, allPresent: true)
        appendStagedPresence(&metadataValidity, rowsBefore: before, count: n, present: { rows[$0].has(5) }, allPresent: all(5))
        requestId.appendStaged(stage.slot(3), present: { rows[$0].has(6) }, allPresent: all(6))
        responseTimeMs.appendStaged(count: n, value: { rows[$0].has(7) ? rows[$0].double : 0 },
                                    present: { rows[$0].has(7) }, allPresent: all(7))
        statusCode.appendStaged(count: n, value: { rows[$0].has(8) ? rows[$0].int32 : 0 },
                                present: { rows[$0].has(8) }, allPresent: all(8))
        endpoint.appendStaged(stage.slot(4), present: { rows[$0].has(9) }, allPresent: all(9))
        method.appendStaged(stage.slot(5), present: { rows[$0].has(10) }, allPresent: all(10))
        clientIp.appendStaged(stage.slot(6), present: { rows[$0].has(11) }, allPresent: all(11))
        userId.appendStaged(stage.slot(7), present: { rows[$0].has(12) }, allPresent: all(12))
        extra.appendNulls(n)
    }

    var largestStringColumnBytes: Int {
        max(service.bytes.count, host.bytes.count, message.bytes.count, requestId.bytes.count, endpoint.bytes.count,
            method.bytes.count, clientIp.bytes.count, userId.bytes.count, extra.bytes.count)
    }

    mutating func reserveLikeHeld(rows: Int) {
        timestampMicros.reserveCapacity(rows); level.reserveCapacity(rows)
        service.reserveLikeHeld(rows: rows); host.reserveLikeHeld(rows: rows); message.reserveLikeHeld(rows: rows)
        metadataValidity?.reserveCapacity(rows)
        requestId.reserveLikeHeld(rows: rows); responseTimeMs.reserveCapacity(rows); statusCode.reserveCapacity(rows)
        endpoint.reserveLikeHeld(rows: rows); method.reserveLikeHeld(rows: rows)
        clientIp.reserveLikeHeld(rows: rows); userId.reserveLikeHeld(rows: rows)
        extra.reserveLikeHeld(rows: rows)
    }

    mutating func discardUnsealedBytes() {
        service.discardUnsealedBytes(); host.discardUnsealedBytes(); message.discardUnsealedBytes()
        requestId.discardUnsealedBytes(); endpoint.discardUnsealedBytes(); method.discardUnsealedBytes()
        clientIp.discardUnsealedBytes(); userId.discardUnsealedBytes()
    }

    mutating func commit(_ r: PendingRow) {
        let before = count
        timestampMicros.append(r.timestamp)
        level.append(r.level)
        service.sealAppendedBytes()
        seal(&host, r.has(3))
        message.sealAppendedBytes()
        [Bool].appendPresence(r.has(5), to: &metadataValidity, rowsBefore: before)
        seal(&requestId, r.has(6))
        if r.has(7) { responseTimeMs.append(r.double) } else { responseTimeMs.appendNull(zero: 0) }
        if r.has(8) { statusCode.append(r.int32) } else { statusCode.appendNull(zero: 0) }
        seal(&endpoint, r.has(9))
        seal(&method, r.has(10))
        seal(&clientIp, r.has(11))
        seal(&userId, r.has(12))
    }
}

/// The activity schema's known fields, each stated once for the general walk's lookup by key
/// (`field(group:key:)`) and the fast path's guesses in the usual order (`expectedMember`).
enum ActivityFields {
    static let eventId = FieldSpec(bit: 0, kind: .string, slot: 0, path: "event_id")
    static let timestamp = FieldSpec(bit: 1, kind: .timestamp, slot: 0, path: "timestamp")
    static let userId = FieldSpec(bit: 2, kind: .string, slot: 1, path: "user_id")
    static let sessionId = FieldSpec(bit: 3, kind: .string, slot: 2, path: "session_id")
    static let eventType = FieldSpec(bit: 4, kind: .nonEmptyString, slot: 3, path: "event_type")
    static let eventData = FieldSpec(bit: 5, kind: .object, slot: 1, path: "event_data")
    static let page = FieldSpec(bit: 6, kind: .string, slot: 4, path: "event_data.page")
    static let element = FieldSpec(bit: 7, kind: .string, slot: 5, path: "event_data.element")
    static let productId = FieldSpec(bit: 8, kind: .string, slot: 6, path: "event_data.product_id")
    static let query = FieldSpec(bit: 9, kind: .string, slot: 7, path: "event_data.query")
    static let amount = FieldSpec(bit: 10, kind: .double, slot: 0, path: "event_data.amount")
    static let device = FieldSpec(bit: 11, kind: .object, slot: 2, path: "device")
    static let deviceType = FieldSpec(bit: 12, kind: .string, slot: 8, path: "device.type")
    static let deviceOs = FieldSpec(bit: 13, kind: .string, slot: 9, path: "device.os")
    static let deviceBrowser = FieldSpec(bit: 14, kind: .string, slot: 10, path: "device.browser")
}

extension ActivityBatch: RecordSchema {
    static var requiredMask: UInt64 { 0b1_0111 }  // event_id, timestamp, user_id, event_type
    static var groupCount: Int { 2 }

    static func groupName(_ group: Int) -> StaticString {
        switch group {
        case 1: "event_data"
        case 2: "device"
        default: ""
        }
    }

    static func path(ofBit bit: Int) -> StaticString {
        switch bit {
        case 0: "event_id"
        case 1: "timestamp"
        case 2: "user_id"
        default: "event_type"
        }
    }

    @inline(__always)
    static func field(group: Int, key: UnsafeRawBufferPointer) -> FieldSpec? {
        switch group {
        case 0:
            switch key.count {
            case 8: if keyIs(key, "event_id") { return ActivityFields.eventId }
            case 9: if keyIs(key, "timestamp") { return ActivityFields.timestamp }
            case 7: if keyIs(key, "user_id") { return ActivityFields.userId }
            case 10: if keyIs(key, "session_id") { return ActivityFields.sessionId }
                if keyIs(key, "event_type") { return ActivityFields.eventType }
                if keyIs(key, "event_data") { return ActivityFields.eventData }
            case 6: if keyIs(key, "device") { return ActivityFields.device }
            default: break
            }
        case 1:
            switch key.count {
            case 4: if keyIs(key, "page") { return ActivityFields.page }
            case 7: if keyIs(key, "element") { return ActivityFields.element }
            case 10: if keyIs(key, "product_id") { return ActivityFields.productId }
            case 5: if keyIs(key, "query") { return ActivityFields.query }
            case 6: if keyIs(key, "amount") { return ActivityFields.amount }
            default: break
            }
        default:
            switch key.count {
            case 4: if keyIs(key, "type") { return ActivityFields.deviceType }
            case 2: if keyIs(key, "os") { return ActivityFields.deviceOs }
            case 7: if keyIs(key, "browser") { return ActivityFields.deviceBrowser }
            default: break
            }
        }
        return nil
    }

    @inline(__always)
    static func expectedMember(group: Int, index: Int) -> ExpectedMember? {
        switch (group, index) {
        case (0, 0): ExpectedMember(quotedKey: #""event_id":"#, spec: ActivityFields.eventId)
        case (0, 1): ExpectedMember(quotedKey: #""timestamp":"#, spec: ActivityFields.timestamp)
        case (0, 2): ExpectedMember(quotedKey: #""user_id":"#, spec: ActivityFields.userId)
        case (0, 3): ExpectedMember(quotedKey: #""session_id":"#, spec: ActivityFields.sessionId)
        case (0, 4): ExpectedMember(quotedKey: #""event_type":"#, spec: ActivityFields.eventType)
        case (0, 5): ExpectedMember(quotedKey: #""event_data":"#, spec: ActivityFields.eventData)
        case (0, 6): ExpectedMember(quotedKey: #""device":"#, spec: ActivityFields.device)
        case (1, 0): ExpectedMember(quotedKey: #""page":"#, spec: ActivityFields.page)
        case (1, 1): ExpectedMember(quotedKey: #""element":"#, spec: ActivityFields.element)
        case (1, 2): ExpectedMember(quotedKey: #""product_id":"#, spec: ActivityFields.productId)
        case (1, 3): ExpectedMember(quotedKey: #""query":"#, spec: ActivityFields.query)
        case (1, 4): ExpectedMember(quotedKey: #""amount":"#, spec: ActivityFields.amount)
        case (2, 0): ExpectedMember(quotedKey: #""type":"#, spec: ActivityFields.deviceType)
        case (2, 1): ExpectedMember(quotedKey: #""os":"#, spec: ActivityFields.deviceOs)
        case (2, 2): ExpectedMember(quotedKey: #""browser":"#, spec: ActivityFields.deviceBrowser)
        default: nil
        }
    }

    @inline(__always)
    mutating func withStringBytes<R>(_ slot: UInt8, _ body: (inout [UInt8]) -> R) -> R {
        switch slot {
        case 0: body(&eventId.bytes)
        case 1: body(&userId.bytes)
        case 2: body(&sessionId.bytes)
        case 3: body(&eventType.bytes)
        case 4: body(&page.bytes)
        case 5: body(&element.bytes)
        case 6: body(&productId.bytes)
        case 7: body(&query.bytes)
        case 8: body(&deviceType.bytes)
        case 9: body(&os.bytes)
        default: body(&browser.bytes)
        }
    }

    static var stringSlots: Int { 11 }

    mutating func appendStaged(_ stage: FastStage) {
        let rows = stage.stagedRows
        let n = rows.count
        let before = count
        var everyRow = UInt64.max
        for r in rows { everyRow &= r.present }
        @inline(__always) func all(_ bit: UInt64) -> Bool { everyRow & (1 << bit) != 0 }
        eventId.appendStaged(stage.slot(0), present: { _ in true }, allPresent: true)
        timestampMicros.appendStaged(count: n, value: { rows[$0].timestamp }, present: { _ in true }, allPresent: true)
        userId.appendStaged(stage.slot(1), present: { _ in true }, allPresent: true)
        sessionId.appendStaged(stage.slot(2), present: { rows[$0].has(3) }, allPresent: all(3))
        eventType.appendStaged(stage.slot(3), present: { _ in true }, allPresent: true)
        appendStagedPresence(&eventDataValidity, rowsBefore: before, count: n, present: { rows[$0].has(5) }, allPresent: all(5))
        page.appendStaged(stage.slot(4), present: { rows[$0].has(6) }, allPresent: all(6))
        element.appendStaged(stage.slot(5), present: { rows[$0].has(7) }, allPresent: all(7))
        productId.appendStaged(stage.slot(6), present: { rows[$0].has(8) }, allPresent: all(8))
        query.appendStaged(stage.slot(7), present: { rows[$0].has(9) }, allPresent: all(9))
        amount.appendStaged(count: n, value: { rows[$0].has(10) ? rows[$0].double : 0 },
                            present: { rows[$0].has(10) }, allPresent: all(10))
        appendStagedPresence(&deviceValidity, rowsBefore: before, count: n, present: { rows[$0].has(11) }, allPresent: all(11))
        deviceType.appendStaged(stage.slot(8), present: { rows[$0].has(12) }, allPresent: all(12))
        os.appendStaged(stage.slot(9), present: { rows[$0].has(13) }, allPresent: all(13))
        browser.appendStaged(stage.slot(10), present: { rows[$0].has(14) }, allPresent: all(14))
        extra.appendNulls(n)
    }

    var largestStringColumnBytes: Int {
        max(eventId.bytes.count, userId.bytes.count, sessionId.bytes.count, eventType.bytes.count, page.bytes.count,
            element.bytes.count, productId.bytes.count, query.bytes.count, deviceType.bytes.count, os.bytes.count,
            browser.bytes.count, extra.bytes.count)
    }

    mutating func reserveLikeHeld(rows: Int) {
        eventId.reserveLikeHeld(rows: rows); timestampMicros.reserveCapacity(rows); userId.reserveLikeHeld(rows: rows)
        sessionId.reserveLikeHeld(rows: rows); eventType.reserveLikeHeld(rows: rows)
        eventDataValidity?.reserveCapacity(rows)
        page.reserveLikeHeld(rows: rows); element.reserveLikeHeld(rows: rows); productId.reserveLikeHeld(rows: rows)
        query.reserveLikeHeld(rows: rows); amount.reserveCapacity(rows)
        deviceValidity?.reserveCapacity(rows)
        deviceType.reserveLikeHeld(rows: rows); os.reserveLikeHeld(rows: rows); browser.reserveLikeHeld(rows: rows)
        extra.reserveLikeHeld(rows: rows)
    }

    mutating func discardUnsealedBytes() {
        eventId.discardUnsealedBytes(); userId.discardUnsealedBytes(); sessionId.discardUnsealedBytes()
        eventType.discardUnsealedBytes(); page.discardUnsealedBytes(); element.discardUnsealedBytes()
        productId.discardUnsealedBytes(); query.discardUnsealedBytes(); deviceType.discardUnsealedBytes()
        os.discardUnsealedBytes(); browser.discardUnsealedBytes()
    }

    mutating func commit(_ r: PendingRow) {
        let before = count
        eventId.sealAppendedBytes()
        timestampMicros.append(r.timestamp)
        userId.sealAppendedBytes()
        seal(&sessionId, r.has(3))
        eventType.sealAppendedBytes()
        [Bool].appendPresence(r.has(5), to: &eventDataValidity, rowsBefore: before)
        seal(&page, r.has(6))
        seal(&element, r.has(7))
        seal(&productId, r.has(8))
        seal(&query, r.has(9))
        if r.has(10) { amount.append(r.double) } else { amount.appendNull(zero: 0) }
        [Bool].appendPresence(r.has(11), to: &deviceValidity, rowsBefore: before)
        seal(&deviceType, r.has(12))
        seal(&os, r.has(13))
        seal(&browser, r.has(14))
    }
}
