package memory

// DBSystemName implements telemetry.Describer: "securedb.memory". The
// semantic conventions have no value for an in-process store, so this is
// the module's own.
func (s *Service) DBSystemName() string { return "securedb.memory" }

// DBNamespace implements telemetry.Describer: the in-memory store has no
// namespace.
func (s *Service) DBNamespace(string) string { return "" }
