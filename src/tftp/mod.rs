//! TFTP (RFC 1350 with the option extensions of RFC 2347, 2348, 2349 and 7440): the wire
//! format, sans-I/O transfer state machines, and the tokio server and client drivers.
