package control

import (
	"context"
)

// students/: one empty file per student; rm removes the student.

func (c *Control) studentsDir() *Dir {
	const path = "students"
	empty := file{mode: 0o444, peek: func() ([]byte, bool) { return nil, true }}
	d := c.newDir(path, func(ctx context.Context) ([]Entry, error) {
		list, err := c.students.get(ctx)
		if err != nil {
			return nil, err
		}
		out := make([]Entry, 0, len(list))
		for _, name := range c.students.keys(list) {
			f := empty
			f.mtime = c.students.mtime
			out = append(out, c.fileEntry(name, path+"/"+name, f))
		}
		return out, nil
	})
	d.mtime = c.students.mtime
	d.unlink = func(ctx context.Context, name string) error {
		if err := c.client.DeleteStudent(ctx, name); err != nil {
			return err
		}
		c.students.remove(name)
		c.log.Info("removed student", "name", name)
		return nil
	}
	return d
}
