"""Sans-I/O mesh core: airtime, wire codec and sync state. No sockets, threads or clock reads here."""
