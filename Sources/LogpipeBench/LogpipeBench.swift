/// LogpipeBench: the measurements behind `logpipe bench`. Each one times Logpipe
/// against a peer or a baseline on the same input in the same run and reports the
/// ratio, because this machine is shared and absolute figures drift.
