package control

// Views of the field tables for the tests of package control_test.

// WritableFields are the names of the writable one-value fields of the
// kind shown in folder (webapps, schedule, always_on, static_files,
// static_headers; domain for the last two), in table order.
func (c *Control) WritableFields(folder, domain string) []string {
	switch folder {
	case "webapps":
		return writable(c.webapps.fields)
	case "schedule":
		return writable(c.schedule.fields)
	case "always_on":
		return writable(c.alwaysOn.fields)
	case "static_files":
		return writable(c.staticFiles(domain).fields)
	case "static_headers":
		return writable(c.staticHeaders(domain).fields)
	}
	return nil
}

func writable[T, P any](fields []field[T, P]) []string {
	var out []string
	for _, f := range fields {
		if f.writable() {
			out = append(out, f.name)
		}
	}
	return out
}

// SettingNames are account/'s one-value settings.
func (c *Control) SettingNames() []string {
	var out []string
	for _, s := range c.settings {
		out = append(out, s.name)
	}
	return out
}
