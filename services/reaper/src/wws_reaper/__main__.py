from wws_reaper.app import main

raise SystemExit(main())
