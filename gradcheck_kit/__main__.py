from gradcheck_kit.cli import main

raise SystemExit(main())
