//go:build !linux

package gelf

import "net"

// setReadBuffer asks for a receive buffer of size bytes; the system may grant less.
func setReadBuffer(conn *net.UDPConn, size int) { _ = conn.SetReadBuffer(size) }

// socketDrops is zero where the kernel's per-socket drop counter cannot be read.
func socketDrops(*net.UDPConn) uint64 { return 0 }
