package inventorystats_test

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/goleak"

	"github.com/qnib/qwatch/inventory"
	"github.com/qnib/qwatch/promstats/internal/promtest"
	"github.com/qnib/qwatch/promstats/inventorystats"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestFollowsConventions(t *testing.T) {
	promtest.Lint(t, inventorystats.Inventory(promtest.Fixed[inventory.Stats]{}))
}

// Every state has a series, 0 when no container is in it; the inventory's counts are read.
func TestContainersByState(t *testing.T) {
	inv := inventory.New()
	inv.Put(inventory.Container{ID: "a", State: "running"})
	inv.Put(inventory.Container{ID: "b", State: "running"})
	inv.Put(inventory.Container{ID: "c", State: inventory.StateDestroyed})
	want := `
# HELP qwatch_inventory_containers Containers in the inventory, by state.
# TYPE qwatch_inventory_containers gauge
qwatch_inventory_containers{state="created"} 0
qwatch_inventory_containers{state="dead"} 0
qwatch_inventory_containers{state="destroyed"} 1
qwatch_inventory_containers{state="exited"} 0
qwatch_inventory_containers{state="paused"} 0
qwatch_inventory_containers{state="removing"} 0
qwatch_inventory_containers{state="restarting"} 0
qwatch_inventory_containers{state="running"} 2
`
	if err := testutil.CollectAndCompare(inventorystats.Inventory(inv), strings.NewReader(want), "qwatch_inventory_containers"); err != nil {
		t.Error(err)
	}
}
