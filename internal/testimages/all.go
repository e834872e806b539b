package testimages

// All writes (or finds in cacheDir) every test image: busybox, then the
// HTTP app at each of HTTPAppVersions, and returns their tar paths in that
// order.
func All(cacheDir string) ([]string, error) {
	bb, err := Busybox(cacheDir)
	if err != nil {
		return nil, err
	}
	paths := []string{bb}
	for _, v := range HTTPAppVersions {
		p, err := HTTPApp(cacheDir, v)
		if err != nil {
			return nil, err
		}
		paths = append(paths, p)
	}
	return paths, nil
}
