// Package empty defines no scenario.
package empty
