"""
twistd plugins for Nova's daemons.  Each line is cheap to import: the code
lives in the named C{tap} module, imported only when the plugin runs.
"""

from twisted.application.service import ServiceMaker

novaAPI = ServiceMaker("Nova API", "nova.api.tap", "EC2 API, admin API and metadata service.", "nova-api")
novaObjectstore = ServiceMaker("Nova objectstore", "nova.objectstore.tap", "S3-compatible object store.", "nova-objectstore")
novaScheduler = ServiceMaker("Nova scheduler", "nova.scheduler.tap", "Picks hosts for instances and volumes.", "nova-scheduler")
novaCompute = ServiceMaker("Nova compute", "nova.compute.tap", "Runs instances through a virt driver.", "nova-compute")
novaNetwork = ServiceMaker("Nova network", "nova.network.tap", "Fixed and floating IPs, bridges, DHCP, NAT.", "nova-network")
novaVolume = ServiceMaker("Nova volume", "nova.volume.tap", "Block volumes over iSCSI or files.", "nova-volume")
novaAll = ServiceMaker("Nova, all in one", "nova.all.tap", "Every Nova service in one process.", "nova-all")
