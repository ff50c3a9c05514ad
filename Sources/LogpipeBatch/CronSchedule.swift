import Foundation
import LogpipeLake

/// A cron schedule in UTC: five fields, `minute hour day-of-month month day-of-week`, each
/// `*`, `*/step`, a number, a range `a-b`, or a comma list of those (day of week 0 = Sunday).
public struct CronSchedule: Sendable, Equatable, CustomStringConvertible {
    /// The expression as given.
    public let description: String
    let minutes: Set<Int>, hours: Set<Int>, days: Set<Int>, months: Set<Int>, weekdays: Set<Int>

    /// Why an expression was refused.
    public struct Invalid: Error, CustomStringConvertible {
        /// What is wrong.
        public var description: String
    }

    /// Parses `expression`.
    public init(_ expression: String) throws {
        let fields = expression.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
        guard fields.count == 5 else { throw Invalid(description: "cron '\(expression)': expected 5 fields") }
        description = expression
        minutes = try Self.field(fields[0], 0...59, expression)
        hours = try Self.field(fields[1], 0...23, expression)
        days = try Self.field(fields[2], 1...31, expression)
        months = try Self.field(fields[3], 1...12, expression)
        weekdays = try Self.field(fields[4], 0...6, expression)
    }

    static func field(_ text: String, _ range: ClosedRange<Int>, _ expression: String) throws -> Set<Int> {
        var out = Set<Int>()
        for part in text.split(separator: ",") {
            let pieces = part.split(separator: "/")
            let step = pieces.count == 2 ? Int(pieces[1]) : 1
            guard let step, step > 0, pieces.count <= 2 else { throw Invalid(description: "cron '\(expression)': bad step in '\(part)'") }
            var lo = range.lowerBound, hi = range.upperBound
            if pieces[0] != "*" {
                let bounds = pieces[0].split(separator: "-").map { Int($0) }
                guard bounds.count <= 2, let a = bounds.first ?? nil, let b = bounds.last ?? nil, range.contains(a), range.contains(b), a <= b else {
                    throw Invalid(description: "cron '\(expression)': '\(part)' is outside \(range)")
                }
                (lo, hi) = (a, bounds.count == 2 || pieces.count == 2 ? b : a)
                if pieces.count == 2 && bounds.count == 1 { hi = range.upperBound }
            }
            out.formUnion(stride(from: lo, through: hi, by: step))
        }
        return out
    }

    /// The first time strictly after `date` that the schedule fires (whole minutes, UTC).
    public func next(after date: Date) -> Date {
        var minute = Int64((date.timeIntervalSince1970 / 60).rounded(.down)) + 1
        // A schedule that matches nothing (31 February) would loop forever; 5 years bounds it.
        let limit = minute + 5 * 366 * 1440
        while minute < limit {
            let day = minute / 1440
            let civil = HourPartition(hoursSinceEpoch: minute / 60).components
            if !months.contains(civil.month) || !days.contains(civil.day) || !weekdays.contains(Int((day + 4) % 7)  /* 1970-01-01 was a Thursday */) {
                minute = (day + 1) * 1440
                continue
            }
            if !hours.contains(civil.hour) {
                minute = (minute / 60 + 1) * 60
                continue
            }
            if minutes.contains(Int(minute % 60)) { return Date(timeIntervalSince1970: Double(minute) * 60) }
            minute += 1
        }
        return Date.distantFuture
    }

    /// Every firing in `(after, through]`, oldest first.
    public func firings(after: Date, through: Date) -> [Date] {
        var out: [Date] = []
        var t = next(after: after)
        while t <= through {
            out.append(t)
            t = next(after: t)
        }
        return out
    }
}

