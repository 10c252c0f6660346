// Package domain holds the types that workflows, activities, the store and
// (later) the recipe engine share: no Temporal, Graph SDK or database driver
// imports, so every layer can use them without dragging another along.
package domain
