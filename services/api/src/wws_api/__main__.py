from wws_api.cli import main

raise SystemExit(main())
