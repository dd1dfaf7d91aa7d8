from wws_provisioner.app import main

raise SystemExit(main())
