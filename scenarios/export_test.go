package scenarios

// PreinstalledNeighboursWith is the network of PreinstalledNeighbours, with
// or without its pre-installed neighbours.
var PreinstalledNeighboursWith = preinstalledNeighbours
