// Package inventory keeps the containers of one Docker host: what they are (name, image,
// labels, service), how they are (state, health, exit code, restarts) and what their logs
// said (lines and bytes by stream and level, the newest line). The events source keeps it
// current; the live page, qwatchd's /inventory and the inventory index read it.
package inventory
