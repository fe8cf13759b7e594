// Package gelfstats exposes a GELF source's counters as Prometheus metrics; see package
// promstats for the Hub's and for what every collector of the module has in common.
//
//	qwatch_gelf_{datagrams,chunks,tcp_frames,http_requests,bytes,messages}_total  counters of input
//	qwatch_gelf_{chunks_expired,chunks_evicted,duplicate_chunks}_total            chunk reassembly
//	qwatch_gelf_{joined_pieces,join_released,clamped}_total                       lines joined, let go, timestamps replaced
//	qwatch_gelf_kernel_drops_total                counter  datagrams the kernel dropped (full socket buffer)
//	qwatch_gelf_discarded_total{cause}            counter  held by the sockets at shutdown, discarded
//	qwatch_gelf_rejected_total{reason}            counter  input rejected
//	qwatch_gelf_{tcp_connections,incomplete_messages,incomplete_bytes}            gauges
//	qwatch_gelf_multiline_{groups,joined_lines,continuations,overflows}_total     multiline events and their lines
//	qwatch_gelf_multiline_{idle_closed,gap_closed,evicted_streams}_total          how held lines went out
//	qwatch_gelf_multiline_held_bytes              gauge    text bytes held for grouping now
package gelfstats

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/qnib/qwatch/gelf"
	"github.com/qnib/qwatch/promstats/internal/collect"
)

// Source collects a GELF source's Stats.
func Source(src interface{ Stats() gelf.Stats }) prometheus.Collector {
	type st = gelf.Stats
	b := &collect.Builder[st]{Prefix: "qwatch_gelf_"}
	b.Counter("datagrams_total", "UDP datagrams read.", func(s st) uint64 { return s.Datagrams })
	b.Counter("chunks_total", "UDP datagrams that were chunks.", func(s st) uint64 { return s.Chunks })
	b.Counter("tcp_frames_total", "TCP messages read.", func(s st) uint64 { return s.TCPFrames })
	b.Counter("http_requests_total", "HTTP requests received.", func(s st) uint64 { return s.HTTPRequests })
	b.Counter("bytes_total", "Bytes read, before decompression.", func(s st) uint64 { return s.Bytes })
	b.Counter("messages_total", "Messages decoded.", func(s st) uint64 { return s.Messages })
	b.Counter("chunks_expired_total", "Chunked messages dropped because their chunks took too long.", func(s st) uint64 { return s.Expired })
	b.Counter("chunks_evicted_total", "Chunked messages dropped to stay within the reassembly limits.", func(s st) uint64 { return s.Evicted })
	b.Counter("duplicate_chunks_total", "Chunks received twice.", func(s st) uint64 { return s.DuplicateChunks })
	b.Counter("joined_pieces_total", "Pieces of long Docker lines joined to the piece before them.", func(s st) uint64 { return s.JoinedPieces })
	b.Counter("join_released_total", "Split Docker lines let go before their end came.", func(s st) uint64 { return s.JoinReleased })
	b.Counter("clamped_total", "Messages whose timestamp was too far from the receive time, replaced.", func(s st) uint64 { return s.Clamped })
	b.Counter("kernel_drops_total", "UDP datagrams the kernel dropped because the socket's receive buffer was full.", func(s st) uint64 { return s.KernelDrops })
	b.Gauge("tcp_connections", "Open TCP connections.", func(s st) float64 { return float64(s.TCPConnections) })
	b.Gauge("incomplete_messages", "Chunked messages waiting for chunks.", func(s st) float64 { return float64(s.Incomplete) })
	b.Gauge("incomplete_bytes", "Bytes the chunked messages waiting for chunks hold.", func(s st) float64 { return float64(s.IncompleteBytes) })
	b.Counter("multiline_groups_total", "Multiline events emitted: lines grouped into one, or parts of a group split at a bound.",
		func(s st) uint64 { return s.Multiline.Groups })
	b.Counter("multiline_joined_lines_total", "Lines in multiline events.", func(s st) uint64 { return s.Multiline.Joined })
	b.Counter("multiline_continuations_total", "Parts after the first of multiline groups split at a bound.",
		func(s st) uint64 { return s.Multiline.Continuations })
	b.Counter("multiline_overflows_total", "Times held lines went out early because the grouping's byte budget was spent.",
		func(s st) uint64 { return s.Multiline.Overflows })
	b.Counter("multiline_idle_closed_total", "Times a stream's held lines went out because it was idle.",
		func(s st) uint64 { return s.Multiline.IdleClosed })
	b.Counter("multiline_gap_closed_total", "Times a gap in the lines' timestamps let a stream's held lines out.",
		func(s st) uint64 { return s.Multiline.GapClosed })
	b.Counter("multiline_evicted_streams_total", "Streams flushed and forgotten early to stay within the grouping's stream limit.",
		func(s st) uint64 { return s.Multiline.Evicted })
	b.Gauge("multiline_held_bytes", "Text bytes of the lines held for grouping.", func(s st) float64 { return float64(s.Multiline.Held) })
	collect.CounterByKey(b, "discarded_total", "What the sockets held at shutdown past the drain timeout, discarded, by cause.", "cause",
		func(s st) map[string]uint64 { return s.Discarded })
	collect.CounterByKey(b, "rejected_total", "Input rejected, by reason.", "reason", func(s st) map[gelf.Reason]uint64 { return s.Rejected })
	return b.Collector(src.Stats)
}
