import ArgumentParser
import LogpipeParquet

struct ParquetCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "parquet",
        abstract: "Look inside Parquet files.",
        subcommands: [Inspect.self, Cat.self]
    )

    struct Inspect: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show the schema, row groups, column chunks, encodings, sizes and statistics."
        )

        @Argument(help: "The Parquet file.")
        var file: String

        func run() throws {
            print(try ParquetInspector.inspect(path: file), terminator: "")
        }
    }

    struct Cat: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print rows as JSON lines.")

        @Argument(help: "The Parquet file.")
        var file: String

        @Option(help: "Only these columns (dotted paths, comma-separated), e.g. timestamp,metadata.status_code.")
        var columns: String?

        @Option(help: "At most this many rows.")
        var limit: Int?

        func run() throws {
            let projection = columns.map { $0.split(separator: ",").map(String.init) }
            try ParquetInspector.cat(path: file, columns: projection, limit: limit) { print($0) }
        }
    }
}
