from wws_audit.cli import main

raise SystemExit(main())
