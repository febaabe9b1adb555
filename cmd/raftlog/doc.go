// Command raftlog inspects, checks, repairs and creates raftlog (mmaplog)
// log directories.
//
//	raftlog stat    [-digest] [-from N] [-to N] DIR
//	                                        what Open would find, without reading every record;
//	                                        -digest: digests of the live entries, to compare nodes
//	raftlog verify  DIR                     check every record, the segment chain and every index
//	raftlog dump    [-from N] [-to N] [-json] DIR
//	                                        print the records as they are on disk
//	raftlog repair  [-yes] DIR              cut the log at the first corruption (-yes: do it)
//	raftlog migrate -from boltdb|raftwal [-mode 0600] [-keys K,...] [-uint64-keys K,...] SRC DIR
//	                                        copy a raft-boltdb or raft-wal store into a new log
//
// raftlog help COMMAND, or raftlog COMMAND -h, prints a command's whole
// usage: what it does, its flags, its exit statuses and an example. Flags
// may come before or after the arguments.
//
// # Exit status
//
// 0: the log is sound, or the command did what was asked (repaired,
// migrated, printed). 1: corruption was found or a repair is needed (stat,
// verify, repair), or a migrated copy differs from its source. 2: a usage
// error; DIR holds no log (it does not exist, is a file, is empty, or holds
// another program's files; raftlog says which, and suggests raftlog migrate
// for a raft-boltdb or raft-wal store); a file in it is not a regular file;
// an I/O or permission error; or DIR is locked by another process.
//
// # Locks and changes
//
// stat, verify and dump take the directory's lock shared, repair and a
// Log exclusive: every command fails with exit status 2 while a running
// node (or a raftlog repair) holds it. stat, verify and dump never change
// the directory, nor does repair without -yes; no command creates anything
// in a directory that holds no log. repair -yes keeps every file's mode
// (its *.broken copies get the segment's mode).
//
// # Permissions
//
// A log holds the application's data, so mmaplog creates the directory
// 0700 and every file 0600 (mmaplog.Options.FileMode changes that, for
// example to 0640 for a group of readers). stat and verify print a warning
// line when the directory gives other users any access, or a file of the
// log is readable or writable by them, with the chmod that fixes it.
//
// # migrate
//
// raftlog migrate copies a github.com/hashicorp/raft node's log and stable
// store from raft-boltdb (v1 or v2 files, opened read-only) or raft-wal
// into a new directory DIR, then reads DIR back and compares every entry
// and stable key with the source and checks it like verify. The copy is
// built in DIR.migrating and renamed to DIR only once complete, verified
// and synced, so that a killed migration never leaves a partial log at
// DIR; running the same command again removes DIR.migrating and starts
// over. DIR must not exist or be an empty directory (not a mount point).
// Run as root, migrate gives the new log the owner of the empty DIR, or
// else of SRC, so that the node's user can open it.
//
// On a terminal, a scan or copy that takes more than a second shows a
// progress bar on stderr; elsewhere (a pipe, a file) nothing is drawn.
package main
