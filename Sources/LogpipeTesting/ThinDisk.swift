import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A thin-provisioned disk for I/O error tests: an ext4 filesystem on a loop device whose
/// backing file is sparse on a small tmpfs. ext4 believes it has free blocks, so writes
/// land in the page cache; once the tmpfs is full (`fillBacking`), writing a block the
/// backing file does not hold yet fails in the block layer, and the `fsync` or `fdatasync`
/// that writes it back returns the error (ENOSPC), as on a thin volume that ran out or a
/// failing disk. Blocks already written keep working, so which files fail is chosen by
/// what is new, or by punching holes into the backing file (`punchBacking`).
///
/// The filesystem has no ext4 journal and its inode tables are written out at `mkfs`, so
/// failed writes hit file data only and the filesystem stays mounted read-write.
/// Needs root (loop devices, mount) and `losetup`, `mkfs.ext4`, `debugfs`, `fallocate`.
public final class ThinDisk: TestServer {
    /// Where the ext4 filesystem is mounted.
    public let path: String
    /// The sparse image on the tmpfs.
    public let image: String
    private let backing: TmpfsMount
    private let device: Mutex<String?>

    /// Mounts a tmpfs of `backingBytes` under `directory`, makes an ext4 image of
    /// `imageBytes` (sparse) on it and mounts that at `directory/mnt`.
    public init(under directory: String, backingBytes: Int, imageBytes: Int) async throws {
        backing = try TmpfsMount(at: directory + "/backing", bytes: backingBytes)
        image = backing.path + "/disk.img"
        path = directory + "/mnt"
        device = Mutex(nil)
        do {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
            guard let fd = Optional(open(image, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)), fd >= 0,
                  ftruncate(fd, off_t(imageBytes)) == 0, close(fd) == 0
            else { throw ChildProcessError.spawn("creating \(image): \(String(cString: strerror(errno)))") }
            let mkfs = try TestEnvironment.tool("mkfs.ext4", debianPackage: "e2fsprogs")
            let made = try await ChildProcess.run(
                mkfs, ["-q", "-F", "-b", "4096", "-N", "64", "-O", "^has_journal", "-E", "lazy_itable_init=0,nodiscard", image])
            guard made.status == 0 else { throw ChildProcessError.spawn("mkfs.ext4 \(image) failed: \(made.error)") }
            try await mount()
        } catch {
            backing.unmount()
            throw error
        }
    }

    /// Attaches the image to a free loop device and mounts it at `path`.
    public func mount() async throws {
        let losetup = try TestEnvironment.tool("losetup", debianPackage: "mount")
        let attached = try await ChildProcess.run(losetup, ["--find", "--show", image])
        let loop = attached.output.trimmingCharacters(in: .whitespacesAndNewlines)
        guard attached.status == 0, !loop.isEmpty else {
            throw ToolMissing(description: "losetup --find --show \(image) failed (\(attached.error)): I/O error tests need root and loop devices")
        }
        guard Glibc.mount(loop, path, "ext4", 0, nil) == 0 else {
            let reason = String(cString: strerror(errno))
            _ = try? await ChildProcess.run(losetup, ["--detach", loop])
            throw ToolMissing(description: "mounting \(loop) (ext4) on \(path) failed (\(reason)): I/O error tests need root")
        }
        device.withLock { $0 = loop }
    }

    /// Unmounts the filesystem (its page cache goes with it: what is read after the next
    /// `mount` is what the disk holds) and detaches the loop device. Every file on it must be
    /// closed; one a closed bus's threads still hold for a moment is waited for (up to 10 s).
    public func unmount() async throws {
        guard let loop = device.withLock({ $0 }) else { return }
        let started = ContinuousClock.now
        while umount2(path, 0) != 0 {
            let code = errno
            guard code == EBUSY, ContinuousClock.now - started < .seconds(10) else {
                throw ChildProcessError.spawn("umount \(path): \(String(cString: strerror(code)))")
            }
            try await Task.sleep(for: .milliseconds(10))
        }
        device.withLock { $0 = nil }
        let losetup = try TestEnvironment.tool("losetup", debianPackage: "mount")
        _ = try await ChildProcess.run(losetup, ["--detach", loop])
    }

    /// Fills the tmpfs under the image: from now on, blocks the image does not hold yet cannot
    /// be written. Returns the filler's path; removing it gives the space back.
    @discardableResult
    public func fillBacking() throws -> String {
        try backing.fill()
    }

    /// Gives the backing tmpfs its space back (removes what `fillBacking` wrote).
    public func freeBacking(_ filler: String) throws {
        try FileManager.default.removeItem(atPath: filler)
    }

    /// Punches holes into the backing file where `file` (a path inside the filesystem) keeps
    /// its bytes from `fromByte` on, so writing them again needs space the backing may not
    /// have. What was there reads back as zeros. Only while unmounted.
    public func punchBacking(file: String, fromByte: Int64) async throws {
        precondition(device.withLock { $0 } == nil, "punchBacking needs the filesystem unmounted")
        let debugfs = try TestEnvironment.tool("debugfs", debianPackage: "e2fsprogs")
        let listed = try await ChildProcess.run(debugfs, ["-R", "blocks \(file)", image])
        let blocks = listed.output.split(whereSeparator: { $0 == " " || $0 == "\n" }).compactMap { Int64($0) }
        guard listed.status == 0, !blocks.isEmpty else {
            throw ChildProcessError.spawn("debugfs found no blocks of \(file) in \(image): \(listed.error)")
        }
        // Contiguous runs of blocks, one `fallocate --punch-hole` each.
        var runs: [(start: Int64, count: Int64)] = []
        for block in blocks.dropFirst(Int(fromByte / 4096)) {
            if let last = runs.last, last.start + last.count == block {
                runs[runs.count - 1].count += 1
            } else {
                runs.append((block, 1))
            }
        }
        let fallocate = try TestEnvironment.tool("fallocate", debianPackage: "util-linux")
        for run in runs {
            let punched = try await ChildProcess.run(
                fallocate, ["--punch-hole", "--offset", "\(run.start * 4096)", "--length", "\(run.count * 4096)", image])
            guard punched.status == 0 else { throw ChildProcessError.spawn("fallocate --punch-hole on \(image): \(punched.error)") }
        }
    }

    /// Unmounts everything, whatever state it is in (lazily if something is still open):
    /// `serve` calls it when its body ends or throws.
    public func stop() async {
        if let loop = device.withLock({ $0 }) {
            if umount2(path, 0) != 0 { _ = umount2(path, 2 /* MNT_DETACH */) }
            if let losetup = try? TestEnvironment.tool("losetup", debianPackage: "mount") {
                _ = try? await ChildProcess.run(losetup, ["--detach", loop])
            }
            device.withLock { $0 = nil }
        }
        backing.unmount()
    }
}
