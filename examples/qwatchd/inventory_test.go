package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestInventoryIndexSetting(t *testing.T) {
	c, err := loadConfig(nil, env(map[string]string{"QWATCH_INVENTORY_INDEX": "hosts", "QWATCH_ES_URL": "http://es:9200"}), &bytes.Buffer{})
	if err != nil || c.InventoryIndex != "hosts" {
		t.Errorf("from the environment: %q, %v", c.InventoryIndex, err)
	}
	if _, err := loadConfig([]string{"-inventory-index", "hosts"}, env(nil), &bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), "needs -es-url") {
		t.Errorf("without -es-url: %v", err)
	}
}
