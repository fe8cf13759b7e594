// Package inventory keeps the containers of one Docker host: what they are (name, image,
// labels, service), how they are (state, health, exit code, restarts) and what their logs
// said (lines and bytes by stream and level, the newest line). The events source keeps it
// current (dockerevents.Config.Inventory); the live page, qwatchd's /inventory and the
// inventory index read it.
//
// An [Inventory] is safe for concurrent use and bounded: a destroyed container stays, with
// State "destroyed", for [Config].Retention, then leaves; at most [Config].MaxContainers
// are held. [Inventory.Count] is a qwatch.Processor that counts each log line under its
// container: it takes no write lock, so it can run on every line from many goroutines.
//
// Readers take a [Snapshot] (a copy, sorted running first) and wait for the next change on
// [Inventory.Changed] or [Inventory.ChangedSince]; log counts are not signalled as changes,
// so a reader that shows them takes snapshots on a tick of its own.
package inventory
