from tools.admin.cli import main

raise SystemExit(main())
