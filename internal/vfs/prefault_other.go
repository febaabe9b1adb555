//go:build unix && !linux

package vfs

func adviseWritable([]byte) {}
