// Package dockerevents follows the Docker engine's events and keeps an inventory of its
// containers.
//
// [Source] streams the engine's /events API as messages, one per event, and survives the
// stream breaking and the engine restarting: it reconnects with backoff, resumes from the
// last event it saw, drops the duplicates that the engine's replay sends at the seam, and when
// the replay cannot reach back to the last event seen (the engine keeps only its last 256
// events, and none across its own restart) it emits a warning message naming the gap rather
// than hiding it.
//
// While it runs, the Source keeps a current inventory of the engine's containers (an
// inventory.Inventory, its own or [Config].Inventory): listed at the start and after every
// reconnection, updated by each container event, and completed by inspects that run beside
// the events. [Source.Enrich] is a processor that adds a container's name, image and labels
// to log lines that carry only its ID, such as what Docker's GELF driver sends.
package dockerevents
