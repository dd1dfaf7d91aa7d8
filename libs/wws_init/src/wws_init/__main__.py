from wws_init.main import main

raise SystemExit(main())
