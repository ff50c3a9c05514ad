/// LogpipeTesting: what Logpipe's tests and its users' tests share — temporary
/// directories, child processes that can be killed mid-flight, free ports, and
/// the contract suites every Bus implementation must pass.
